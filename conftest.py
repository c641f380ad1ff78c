"""Root pytest configuration: collect the bundled standards' *.cases.yaml files as tests."""

pytest_plugins = ("tuopin_rules.testing",)
