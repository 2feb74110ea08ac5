"""Root conftest: the plugin itself comes from the installed distribution's
``pytest11`` entry point, as it does for every Kindling user, so there is
nothing to register here. Spark tests share one session (the ``spark``
fixture) and are marked ``spark`` automatically."""

pytest_plugins = ["pytester"]
