"""The papers' own configurations: Power et al.'s decoder as the Grokfast code builds it, the
[a, ∘, b, =] input format and b ≠ 0 operand range, the learning-rate warm-up and the kept last
batch; and the rule that these later options leave every committed run id as it was."""
import json
import math

import pytest
import torch

from grokbench.config import resolve, run_id
from grokbench.engine import Batches, run
from grokbench.grid import suites_dir


def decoder_for(registry, **overrides):
    config = resolve(registry, "modmul", "baseline", overrides, preset="grokfast")
    torch.manual_seed(0)
    data = registry.get("tasks", "modmul").obj().load(config)
    return config, data, registry.get("models", "decoder").obj(data.info, config)


def test_the_decoder_has_the_papers_size_and_shapes(registry):
    """Power et al. 2022 (App. A.1.2): 2 layers, width 128, 4 heads, "about 4·10^5 non-embedding
    parameters". By hand, for the Grokfast code's vocabulary of p + 2 = 99 tokens and 5 positions:
    each block 2·256 (LayerNorms) + 3·128·128 + 3·128 (attention in) + 128·128 + 128 (out)
    + 128·512 + 512 + 512·128 + 128 (MLP) = 198 272; two of them 396 544, the final LayerNorm 256;
    token embedding and head 99·128 = 12 672 each, positions 5·128 = 640: 422 784 in all, the
    number the code prints."""
    config, data, model = decoder_for(registry)
    total = sum(p.numel() for p in model.parameters())
    assert total == 422_784
    embeddings = model.token_embeddings.weight.numel() + model.position_embeddings.weight.numel()
    non_embedding = total - embeddings - model.head.weight.numel()
    assert non_embedding == 396_800 and abs(non_embedding - 4e5) / 4e5 < 0.01
    # the code's data: a in 0..96, b in 1..96, all 97·96 = 9312 pairs split in halves
    assert data.n_train == data.n_test == 4656
    assert data.train_x.shape == (4656, 4)
    assert set(data.train_x[:, 1].tolist()) == {98} and set(data.train_x[:, 3].tolist()) == {97}
    assert 0 not in set(data.train_x[:, 2].tolist()) | set(data.test_x[:, 2].tolist())
    a, b = data.train_x[:, 0], data.train_x[:, 2]
    assert torch.equal(data.train_y, (a * b) % 97)
    # the head reads all 99 tokens (the code's cross-entropy sees the operator and "=" too)
    assert model(data.train_x[:7]).shape == (7, 99)
    answers = registry.get("models", "decoder").obj(data.info, {**config, "head": "answers"})
    assert answers(data.train_x[:7]).shape == (7, 97)


def test_the_decoder_reads_only_the_past(registry):
    """Causal: the output at the last position depends on every input token, and changing a
    token changes nothing before it (checked through a forward pass that keeps all positions)."""
    _, data, model = decoder_for(registry)
    x = data.train_x[:5]
    y = x.clone()
    y[:, 0] = (y[:, 0] + 1) % 97
    assert not torch.allclose(model(x), model(y))
    last_changed = x.clone()
    last_changed[:, 3] = 5
    h, g = model.token_embeddings(x), model.token_embeddings(last_changed)
    h, g = h + model.position_embeddings.weight[:4], g + model.position_embeddings.weight[:4]
    for layer in model.layers:
        h, g = layer(h, model.mask), layer(g, model.mask)
    assert torch.equal(h[:, :3], g[:, :3]) and not torch.allclose(h[:, 3], g[:, 3])


def test_the_last_block_on_the_last_position_only_is_the_same_function(registry):
    """The decoder runs its last block for the last position only (the only output read); a
    full pass over every position gives the same logits."""
    _, data, model = decoder_for(registry)
    x = data.train_x[:64]
    h = model.token_embeddings(x) + model.position_embeddings.weight[:4]
    for layer in model.layers:
        h = layer(h, model.mask)
    torch.testing.assert_close(model(x), model.head(model.ln_f(h[:, -1])), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("placement", ["grokfast", "pre", "none"])
def test_each_layer_norm_placement_trains(registry, placement):
    config, data, model = decoder_for(registry, layer_norm=placement, activation="relu")
    n_norms = sum(isinstance(m, torch.nn.LayerNorm) for m in model.modules())
    assert n_norms == (0 if placement == "none" else 5)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = data.train_x[:256], data.train_y[:256]
    first = None
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first


def test_the_other_token_models_take_the_equation_format(registry):
    """[a, ∘, b, =] inputs end with their own "=": the transformer appends none, the MLP one-hots
    all four tokens."""
    config = resolve(registry, "modadd", "baseline", {"input_format": "equation", "p": 11,
                                                      "model": "transformer"})
    data = registry.get("tasks", "modadd").obj().load(config)
    assert data.info.vocab_size == 13 and data.info.seq_len == 4
    transformer = registry.get("models", "transformer").obj(data.info, config)
    assert transformer.embed.num_embeddings == 13 and transformer.pos.shape[0] == 4
    assert transformer(data.train_x[:3]).shape == (3, 11)
    mlp = registry.get("models", "mlp").obj(data.info, {**config, "width": 8, "depth": 1,
                                                        "activation": "relu", "bias": False})
    assert mlp.layers[0].in_features == 4 * 13 and mlp(data.train_x[:3]).shape == (3, 11)


def test_warm_up_scales_the_first_updates_as_the_grokfast_code(registry):
    """lr·min(u / w, 1) for update u from 0 (the code's LambdaLR): with plain SGD the first
    update moves nothing, so the evaluation after it equals the initial one bit for bit; the
    second moves the weights by lr/w · ∇L, as a run without warm-up at lr/w does in its first."""
    base = {"p": 11, "optimizer": "sgd", "steps": 2, "eval_every": 1, "threads": 1}
    warm = run(resolve(registry, "modadd", "baseline", {**base, "lr": 0.5, "warmup_steps": 10}),
               progress=False)["curve"]
    assert warm[1]["train_loss"] == warm[0]["train_loss"]
    assert warm[1]["weight_norm"] == warm[0]["weight_norm"]
    cold = run(resolve(registry, "modadd", "baseline", {**base, "lr": 0.05, "steps": 1}),
               progress=False)["curve"]
    assert warm[2]["weight_norm"] != warm[0]["weight_norm"]
    # the same step up to the order the full batch's gradient is summed in (it is reshuffled)
    assert warm[2]["train_loss"] == pytest.approx(cold[1]["train_loss"], rel=1e-6)
    assert warm[2]["weight_norm"] == pytest.approx(cold[1]["weight_norm"], rel=1e-6)


def test_the_last_partial_batch_is_dropped_or_kept():
    """10 samples in batches of 4: drop gives 4, 4 and a new epoch; keep gives 4, 4, 2 (the
    Grokfast code's torch.split), and each epoch covers every sample once."""
    drop, keep = Batches(10, 4, 0, "cpu"), Batches(10, 4, 0, "cpu", keep_last=True)
    assert [len(drop.next()) for _ in range(4)] == [4, 4, 4, 4]
    sizes = [keep.next() for _ in range(6)]
    assert [len(b) for b in sizes] == [4, 4, 2, 4, 4, 2]
    assert sorted(torch.cat(sizes[:3]).tolist()) == list(range(10))
    assert sorted(torch.cat(sizes[3:]).tolist()) == list(range(10))


def test_options_added_later_keep_the_ids_of_runs_computed_before(registry):
    """warm-up, last_batch, input_format and nonzero_b at their defaults are the computation of
    before they existed, so they stay out of the run id; set to anything else they are in it."""
    config = resolve(registry, "modadd", "wd", {"p": 97})
    assert (config["warmup_steps"], config["last_batch"], config["input_format"],
            config["nonzero_b"]) == (0, "drop", "pair", False)
    old = {k: v for k, v in config.items()
           if k not in ("warmup_steps", "last_batch", "input_format", "nonzero_b")}
    assert run_id(config) == run_id(old)
    for key, value in [("warmup_steps", 10), ("last_batch", "keep"),
                       ("input_format", "equation"), ("nonzero_b", True)]:
        assert run_id({**config, key: value}) != run_id(config), key


COMMITTED = sorted(suites_dir().glob("*.results.jsonl"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_every_committed_run_resolves_to_its_id_today(registry, path):
    """Each committed run's settings, resolved again by today's code (its task, method, preset
    and every setting it stored), give the same config and the same run id: no new option has
    orphaned a committed result. (Runs whose plugins are not installed here are skipped.)"""
    derived = {"task", "method", "preset", "plugin_versions", "target", "target_metric"}
    checked = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        stored = rec["config"]
        overrides = {k: v for k, v in stored.items() if k not in derived and v is not None
                     and not (isinstance(v, float) and math.isnan(v))}
        try:
            config = resolve(registry, stored["task"], stored["method"], overrides, stored.get("preset"))
        except Exception as exc:  # noqa: BLE001 - a task whose plugin is missing here
            pytest.fail(f"{rec['run_id']} no longer resolves: {exc}")
        assert run_id(config) == rec["run_id"], (rec["run_id"], stored["task"], stored["method"])
        checked += 1
    assert checked > 0


def committed_suite_plans(registry):
    """(file, {run id: config} the suite plans today, its committed records) for each committed
    raw-results file: a suite's grid as ``grokbench sweep --suite`` expands it, and for
    claims.results.jsonl every claim's groups as ``grokbench claims`` expands them."""
    from grokbench.claim_runs import resolve_groups
    from grokbench.grid import expand, load_suite
    for path in COMMITTED:
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        name = path.name.removesuffix(".results.jsonl")
        if name == "claims":
            configs = [cfg for entry in registry.entries["claims"].values()
                       if not entry.obj.unavailable
                       for _, cfgs in resolve_groups(registry, entry.obj) for cfg in cfgs]
        else:
            configs = expand(registry, load_suite(name), [])
        yield path, {run_id(cfg): cfg for cfg in configs}, records


def test_every_committed_suite_plans_its_committed_run_ids(registry):
    """A suite's runs are found by id: the runs each committed suite (and each claim) plans
    today, from its task, method, preset and the suite's own settings only, so that every
    settings layer (task defaults, presets, methods and their recipes) is resolved again, have
    the ids of the committed runs. A claim's run counts on whatever device it was computed
    (grokbench.claim_runs.adopt_twins), so it is compared with the device it was stored with."""
    checked = 0
    for path, planned, records in committed_suite_plans(registry):
        by_device_free_id = {run_id({**cfg, "device": None}): cfg for cfg in planned.values()}
        for rec in records:
            device = rec["config"]["device"]
            cfg = by_device_free_id.get(run_id({**rec["config"], "device": None}))
            assert cfg is not None, (path.name, rec["run_id"], rec["config"]["task"],
                                     rec["config"]["method"], "no longer planned")
            assert run_id({**cfg, "device": device}) == rec["run_id"], (path.name, rec["run_id"])
            if path.name != "claims.results.jsonl":
                assert rec["run_id"] in planned, (path.name, rec["run_id"])
            checked += 1
    assert checked == sum(len(p.read_text(encoding="utf-8").splitlines()) for p in COMMITTED)
