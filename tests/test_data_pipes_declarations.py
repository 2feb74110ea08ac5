"""Pipe declarations and the executer's up-front checks: fast, no JVM."""

from __future__ import annotations

import pytest

import kindling
from kindling.data_pipes import (
    DataPipes,
    DataPipesExecuter,
    PipeDeclarationError,
    PipeDefinition,
    PipeExecutionError,
    UnknownPipeError,
    get_pipe_definition,
    get_pipe_ids,
    input_parameter_name,
)


def _declare_orders_pipe(pipeid: str = "bronze_to_silver_orders"):
    @DataPipes.pipe(pipeid=pipeid, name="Bronze to Silver Orders", tags={"layer": "silver"},
                    input_entity_ids=["bronze.orders", "ref.customers"],
                    output_entity_id="silver.orders", output_type="table")
    def bronze_to_silver_orders(bronze_orders, ref_customers):
        return ("joined", bronze_orders, ref_customers)

    return bronze_to_silver_orders


def test_decorator_returns_the_function_unchanged_and_still_callable():
    fn = _declare_orders_pipe()
    assert fn.__name__ == "bronze_to_silver_orders"
    assert fn(bronze_orders=1, ref_customers=2) == ("joined", 1, 2)
    assert get_pipe_definition("bronze_to_silver_orders").execute is fn


def test_definition_exposes_the_declared_fields():
    _declare_orders_pipe()
    d = DataPipes.get_pipe_definition("bronze_to_silver_orders")
    assert isinstance(d, PipeDefinition)
    assert (d.pipeid, d.name, d.tags, d.input_entity_ids, d.output_entity_id, d.output_type) == (
        "bronze_to_silver_orders", "Bronze to Silver Orders", {"layer": "silver"},
        ("bronze.orders", "ref.customers"), "silver.orders", "table")
    assert d.input_parameters == {"bronze_orders": "bronze.orders", "ref_customers": "ref.customers"}
    with pytest.raises(AttributeError):
        d.name = "other"  # type: ignore[misc]


def test_input_parameter_name_replaces_dots():
    assert input_parameter_name("bronze.orders") == "bronze_orders"
    assert input_parameter_name("a.b.c") == "a_b_c"


def test_declaring_again_replaces_and_keeps_order():
    _declare_orders_pipe("p_first")
    _declare_orders_pipe("p_second")

    @DataPipes.pipe(pipeid="p_first", name="Replaced", input_entity_ids=[], output_entity_id="x.y")
    def replaced():
        return None

    assert get_pipe_ids()[-2:] == ["p_first", "p_second"]
    assert DataPipes.get_pipe_ids() == get_pipe_ids()
    assert get_pipe_definition("p_first").name == "Replaced"
    assert get_pipe_definition("p_first").input_entity_ids == ()


def test_kindling_reset_clears_the_pipe_registry():
    _declare_orders_pipe()
    kindling.reset()
    assert get_pipe_ids() == []


def test_parameters_that_do_not_match_inputs_name_the_mismatch_and_the_fix():
    with pytest.raises(PipeDeclarationError) as info:
        @DataPipes.pipe(pipeid="bad_params", name="Bad", input_entity_ids=["bronze.orders"],
                        output_entity_id="silver.orders")
        def bad(orders):
            return orders

    msg = str(info.value)
    assert "pipe 'bad_params'" in msg
    assert "no parameter for bronze_orders" in msg
    assert "orders match no input entity" in msg
    assert "expected: def bad(bronze_orders)" in msg
    assert "bad_params" not in get_pipe_ids()


def test_kwargs_and_defaulted_parameters_are_accepted():
    @DataPipes.pipe(pipeid="flex", name="Flex", input_entity_ids=["a.b", "c.d"], output_entity_id="e.f")
    def flex(a_b, limit=10, **others):
        return a_b, limit, others

    assert get_pipe_definition("flex").execute(a_b=1, c_d=2) == (1, 10, {"c_d": 2})


def test_positional_only_parameters_are_rejected():
    with pytest.raises(PipeDeclarationError, match="positional-only parameter"):
        @DataPipes.pipe(pipeid="posonly", name="P", input_entity_ids=["a.b"], output_entity_id="e.f")
        def posonly(a_b, /):
            return a_b


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(pipeid="", name="N"), "pipeid='' must be a non-empty string"),
    (dict(pipeid=None, name="N"), "pipeid=None must be a non-empty string"),
    (dict(pipeid="p", name=""), "pipe 'p': name='' must be a non-empty string"),
    (dict(pipeid="p", name="N", input_entity_ids="bronze.orders"),
     "pass a list of entity ids, e.g. input_entity_ids=['bronze.orders']"),
    (dict(pipeid="p", name="N", input_entity_ids=[3]), "input_entity_ids entry=3"),
    (dict(pipeid="p", name="N", input_entity_ids=["a.b", "a_b"]),
     "'a.b' and 'a_b' both arrive as parameter 'a_b'"),
    (dict(pipeid="p", name="N", input_entity_ids=["raw-orders"]), "is not a Python identifier"),
    (dict(pipeid="p", name="N", output_type="stream"), "output_type='stream' is not supported; use one of 'table'"),
    (dict(pipeid="p", name="N", tags=["layer"]), "tags=['layer'] must be a dict"),
    (dict(pipeid="p", name="N", output_entity_id=""), "output_entity_id='' must be a non-empty string or None"),
])
def test_bad_declarations_say_what_and_how_to_fix(kwargs, fragment):
    with pytest.raises(PipeDeclarationError) as info:
        def fn(**inputs):
            return None
        DataPipes.pipe(**kwargs)(fn)
    assert fragment in str(info.value)


def test_unknown_pipe_id_suggests_close_matches():
    _declare_orders_pipe()
    with pytest.raises(UnknownPipeError) as info:
        get_pipe_definition("bronze_to_silver_order")
    assert isinstance(info.value, LookupError)
    assert info.value.suggestions == {"bronze_to_silver_order": ["bronze_to_silver_orders"]}
    assert str(info.value).startswith(
        "Unknown pipe id 'bronze_to_silver_order' (did you mean 'bronze_to_silver_orders'?)")


def test_run_with_unknown_ids_names_them_all_before_anything_runs(signal_recorder):
    calls = []

    @DataPipes.pipe(pipeid="known_pipe", name="Known", input_entity_ids=[], output_entity_id=None)
    def known_pipe():
        calls.append("ran")

    with pytest.raises(UnknownPipeError) as info:
        DataPipesExecuter().run_datapipes(["known_pipe", "known_pip", "nope"])
    assert info.value.pipe_ids == ("known_pip", "nope")
    assert "Unknown pipe ids 'known_pip' (did you mean 'known_pipe'?), 'nope'" in str(info.value)
    assert calls == []
    assert signal_recorder.records == []  # the run never started: nothing to close


def test_run_with_a_bare_string_says_to_pass_a_list(signal_recorder):
    with pytest.raises(TypeError, match=r"e.g. run_datapipes\(\['pipe1'\]\)"):
        DataPipesExecuter().run_datapipes("pipe1")
    assert signal_recorder.records == []



def _side_effect_pipes(calls: list[str]) -> None:
    # No inputs, no output entity: the run logic is exercised without Spark.
    @DataPipes.pipe(pipeid="first", name="First")
    def first():
        calls.append("first")

    @DataPipes.pipe(pipeid="breaks", name="Breaks")
    def breaks():
        calls.append("breaks")
        raise KeyError("missing config key 'region'")

    @DataPipes.pipe(pipeid="last", name="Last")
    def last():
        calls.append("last")


def test_a_failed_pipe_stops_the_run_by_default(signal_recorder, signal_catalog):

    calls: list[str] = []
    _side_effect_pipes(calls)
    with pytest.raises(PipeExecutionError) as info:
        DataPipesExecuter().run_datapipes(["first", "breaks", "last"])

    assert calls == ["first", "breaks"]
    assert isinstance(info.value.__cause__, KeyError) and info.value.pipe_id == "breaks"
    assert signal_recorder.names() == [
        "datapipes.pre_run", "datapipes.pre_pipe", "datapipes.post_pipe",
        "datapipes.pre_pipe", "datapipes.pipe_failed", "datapipes.run_failed"]
    run_failed = signal_recorder.last("datapipes.run_failed")
    assert (run_failed["failed_pipe"], run_failed["error_type"], run_failed["success_count"],
            run_failed["failed_count"]) == ("breaks", "KeyError", 1, 1)
    assert signal_recorder.first("datapipes.post_pipe")["rows_processed"] == 0
    signal_recorder.assert_contract()


def test_continue_on_error_runs_the_rest_and_counts_the_failure(signal_recorder, signal_catalog):

    calls: list[str] = []
    _side_effect_pipes(calls)
    result = DataPipesExecuter().run_datapipes(["first", "breaks", "last"], continue_on_error=True)

    assert calls == ["first", "breaks", "last"]
    assert (result.succeeded, result.failed, result.ok) == (["first", "last"], ["breaks"], False)
    post_run = signal_recorder.last("datapipes.post_run")
    assert (post_run["success_count"], post_run["failed_count"], post_run["skipped_count"],
            post_run["pipe_count"]) == (2, 1, 0, 3)
    assert "datapipes.run_failed" not in signal_recorder.names()
    signal_recorder.assert_contract()


def test_a_broken_signal_provider_never_breaks_the_run():
    class Broken:
        def signal(self, name):
            raise RuntimeError("provider down")

    calls: list[str] = []
    _side_effect_pipes(calls)
    executer = DataPipesExecuter(signal_provider=Broken())
    assert executer.run_datapipes(["first", "last"]).succeeded == ["first", "last"]
    assert calls == ["first", "last"]
    assert {name for name, _ in executer.emission_errors} == {
        "datapipes.pre_run", "datapipes.pre_pipe", "datapipes.post_pipe", "datapipes.post_run"}
