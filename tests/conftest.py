"""Puts ``tests/`` on ``sys.path`` so every test folder imports the shared test
helpers (``docs_examples``) by plain name: pytest's prepend import mode adds the
folder of each ``conftest.py`` outside a package. Nothing else lives here."""
