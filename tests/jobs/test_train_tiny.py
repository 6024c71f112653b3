"""jobs/train_tiny.py and jobs/tiny_qa.py: training questions agree with the benchmark's own answers, packed
multi-question sequences give exactly the logits of separate single-question sweep prompts, and a run stopped
and resumed ends bit-identical to an uninterrupted one."""
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from jobs.tiny_qa import Packer, all_questions, cell_labels, patch_cells, questions, scene
from sweeps.benchmarks.shapes import generate_rows
from sweeps.benchmarks.vqav2 import SHORT_ANSWER

ROOT = Path(__file__).resolve().parents[2]


def test_every_benchmark_question_is_a_training_question_with_the_same_answer():
    for seed in (0, 3):
        for r in generate_rows(seed, 48):
            objs = [{**o, "cell": tuple(o["cell"])} for o in json.loads(r["objects"])]
            assert (r["question"], r["answer"], r["category"]) in all_questions(objs), r["id"]


def test_training_draw_is_balanced_and_deterministic():
    objs = scene("llm", 0, 5)
    a, b = questions(objs, random.Random(1)), questions(objs, random.Random(1))
    assert a == b and set(a) <= set(all_questions(objs))
    ex = [q for q in a if q[2] == "existence"]
    assert sum(q[1] == "yes" for q in ex) == min(3, len({(o["color"], o["shape"]) for o in objs}))
    assert sum(q[1] == "no" for q in ex) == 3


def test_cell_labels_and_patch_cells_by_hand():
    y = cell_labels([{"shape": "circle", "color": "blue", "cell": (0, 0)},       # blue = sorted index 0
                     {"shape": "triangle", "color": "yellow", "cell": (3, 2)}])   # yellow = 3, triangle = 2
    assert y.tolist() == [1] + [0] * 13 + [1 + 3 * 3 + 2, 0]
    pc = patch_cells()
    assert pc[0] == 0 and pc[5] == 0 and pc[6] == 1 and pc[24 * 6] == 4 and pc[575] == 15
    assert torch.bincount(pc).tolist() == [36] * 16


def test_packed_segments_equal_separate_single_question_prompts():
    from jobs.train_tiny import llm_logits
    from pruning.models import load_vlm
    from pruning.models.sequence import splice

    vlm = load_vlm("tiny-llava", device="cpu")
    m, tok = vlm.model, vlm.tokenizer
    packer = Packer(tok, vlm.image_token_id)
    qas = [[(q, a) for q, a, _ in questions(scene("llm", 0, i), random.Random(i))][:4] for i in range(2)]
    feats = torch.randn(2, 576, m.config.vision_config.hidden_size)
    with torch.no_grad():
        packed = llm_logits(m, packer, feats, packer.pack(qas))  # (M, V)
        at = 0
        for b, row in enumerate(qas):
            for q, a in row:
                ids, start = splice(vlm.prompt_ids(q + SHORT_ANSWER), vlm.image_token_id, 576)  # the adapter's prompt
                ans = tok(" " + a, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
                full = torch.cat([ids, torch.tensor(ans)])[None]  # (1, L)
                emb = m.model.language_model.embed_tokens(full)
                emb[0, start:start + 576] = m.model.multi_modal_projector(feats[b])
                hid = m.model.language_model(inputs_embeds=emb).last_hidden_state  # plain causal forward
                ref = m.lm_head(hid[0, len(ids) - 1:len(ids) - 1 + len(ans)])
                torch.testing.assert_close(packed[at:at + len(ans)], ref, atol=2e-5, rtol=1e-4)
                at += len(ans)
    assert at == packed.shape[0]


def _train(out, *extra):
    cmd = [sys.executable, str(ROOT / "jobs/train_tiny.py"), "--out", str(out), "--threads", "1", "--steps1", "2",
           "--batch1", "2", "--steps2", "2", "--batch2", "2", "--pool", "4", "--heldout", "4", "--eval-every1", "2",
           "--eval-every2", "2", *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    return res


@pytest.mark.timeout(900)
def test_stopped_and_resumed_run_matches_an_uninterrupted_one(tmp_path):
    from safetensors.torch import load_file

    _train(tmp_path / "a")
    stopped = _train(tmp_path / "b", "--stop-after", "3")              # 2 tower steps + 1 LLM step
    assert "stopped in stage 2 at step 1" in stopped.stdout and not (tmp_path / "b/final").exists()
    _train(tmp_path / "b")
    a, b = load_file(tmp_path / "a/final/model.safetensors"), load_file(tmp_path / "b/final/model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    logged = [json.loads(x) for x in (tmp_path / "a/metrics.jsonl").read_text().splitlines()]
    assert {(x["stage"], x["step"]) for x in logged} == {(1, 2), (2, 2)} and "heldout_acc" in logged[-1]
