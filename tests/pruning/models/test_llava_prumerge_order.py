"""PruMerge+ through the LLaVA adapter: the LLM's prefill input holds the merged tokens in the released order
(outliers by descending attention, spatial ascending, summary last), restated independently from VisionTokens."""
import torch

from pruning import PrunePlan
from tests.pruning.models.images import QUESTIONS
from tests.pruning.test_prumerge_plus import released, released_domain


def test_prefill_image_span_is_in_released_order(vlm, vision):
    prep = vlm.prepare(QUESTIONS, PrunePlan("prumerge_plus", 64), vision=vision)
    proj = vlm.model.model.multi_modal_projector
    checked = 0
    for b in range(len(QUESTIONS)):
        a = vision.extra["last_attention"][b]
        if not released_domain(a):
            continue
        checked += 1
        idx, want = released(vision.features[b], a, vision.extra["last_keys"][b])
        n = prep.lengths[b]
        assert n == len(idx) + 1
        span = prep.embeds[b][prep.batch.ids[b] == vlm.image_token_id]  # (n, D) image positions, in sequence order
        assert span.shape[0] == n
        torch.testing.assert_close(span, proj(want), atol=1e-5, rtol=1e-5)
        # and not the raster order of the same tokens
        raster = torch.cat([want[:-1][idx.argsort()], want[-1:]])
        assert not torch.allclose(span, proj(raster), atol=1e-5, rtol=1e-5)
    assert checked >= 1
