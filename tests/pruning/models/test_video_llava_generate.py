"""Video-LLaVA adapter on videos: keep_all equals transformers generate with pixel_values_videos (8 x 257 tokens),
one budget T chosen jointly over the video's 8 x 256 patches by each frame's [CLS] attention (checked against
an eager-attention copy of the model), exact counts per strategy, batched == per-sample, per-frame counts.
The image path is covered by test_contract.py."""
import numpy as np
import pytest
import torch

from pruning import PrunePlan
from pruning.accounting import kv_cache_bytes, prefill_flops
from pruning.models import load_vlm
from tests.pruning.models.videos import VIDEO_QUESTIONS, make_video

FRAMES = 8


@pytest.fixture(scope="module")
def vlm(tiny_dir):
    return load_vlm("tiny-video-llava", device="cpu")


@pytest.fixture(scope="module")
def videos():
    return [make_video(12, seed=1), make_video(5, seed=2), make_video(9, seed=3)]


@pytest.fixture(scope="module")
def vis(vlm, videos):
    return vlm.encode(videos)


def picked(frames):
    """Video-LLaVA's sampling restated: 8 frames at linspace(0, F-1, 8), truncated to int."""
    return [frames[int(i)] for i in np.linspace(0, len(frames) - 1, FRAMES)]


def pixels(vlm, frames):
    px = vlm.image_processor(images=picked(frames), return_tensors="pt", return_legacy_image_output=False)
    return px["pixel_values"]  # (8, 3, 224, 224)


def per_video_tokens(vlm):
    vc = vlm.model.config.vision_config
    return FRAMES * ((vc.image_size // vc.patch_size) ** 2 + 1)  # each frame's patches + its [CLS]


def reference_ids(vlm, question, frames, max_new_tokens):
    """transformers generate on the unmodified model: chat template over [video, text], the <video> placeholder
    expanded to 8 x 257, pixel_values_videos (1, 8, 3, 224, 224) from the image processor."""
    msgs = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": question}]}]
    text = vlm.tokenizer.apply_chat_template(msgs, chat_template=vlm.chat_template, add_generation_prompt=True,
                                             tokenize=False)
    ids = torch.tensor(vlm.tokenizer(text)["input_ids"])
    vid = vlm.tokenizer.convert_tokens_to_ids("<video>")
    at = (ids == vid).nonzero().flatten()
    assert at.numel() == 1
    ids = torch.cat([ids[:at[0]], torch.full((per_video_tokens(vlm),), vid), ids[at[0] + 1:]])[None]
    out = vlm.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values_videos=pixels(vlm, frames)[None],
                             do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=None,
                             min_new_tokens=max_new_tokens)
    return out[0, ids.shape[1]:].tolist(), ids.shape[1] - per_video_tokens(vlm)


def test_frames_sampled_at_linspace():
    from pruning.models.video_frames import frame_indices

    assert frame_indices(12, 8) == [0, 1, 3, 4, 6, 7, 9, 11]  # 11 * k / 7 truncated, by hand
    assert frame_indices(5, 8) == [0, 0, 1, 1, 2, 2, 3, 4]    # short videos repeat frames
    assert frame_indices(8, 8) == list(range(8))


def test_keep_all_gives_the_tokens_of_transformers_generate_on_videos(vlm, videos, vis):
    outs = vlm.generate(VIDEO_QUESTIONS, PrunePlan("keep_all"), vision=vis, max_new_tokens=6)
    for i, (q, frames) in enumerate(zip(VIDEO_QUESTIONS, videos)):
        ref, n_text = reference_ids(vlm, q, frames, 6)
        prep = vlm.prepare([q], PrunePlan("keep_all"), vision=vis.take_samples([i]))
        state = vlm.loop.prefill(prep.embeds, prep.batch.valid, prep.batch.pos, prep.batch.img_start, max(prep.lengths))
        assert vlm.loop.greedy(state, vlm._embed, 6, set(), vlm.pad_id)[0] == ref
        o = outs[i]
        assert o.n_visual_in == o.n_visual_kept == 2056 == per_video_tokens(vlm)
        assert o.n_text == n_text
        assert o.kept_per_frame == [257] * 8


def test_video_goes_through_video_tower_and_images_through_image_tower(vlm, videos, vis):
    px = pixels(vlm, videos[0])
    video = vlm.model.model.video_tower(px, output_hidden_states=True).hidden_states[-2][:, 1:]  # (8, 256, C)
    image = vlm.model.model.image_tower(px, output_hidden_states=True).hidden_states[-2][:, 1:]
    rows = vis.take_samples([0])
    assert rows.num_rows == 8 and vis.counts == [2048] * 3
    torch.testing.assert_close(rows.features, video, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(rows.features, image, atol=1e-3)
    as_images = vlm.encode(picked(videos[0]))  # the same frames as images: image tower, 256 per image
    torch.testing.assert_close(as_images.features, image, rtol=1e-5, atol=1e-5)
    assert as_images.counts == [256] * 8


@pytest.mark.parametrize("budget", [455, 114])
def test_one_budget_over_the_whole_video_by_each_frames_cls_attention(vlm, videos, vis, budget):
    """r = 1: VisPruner keeps the top-T patches of the video by [CLS] attention (eager attention of layer -2
    of an unmodified copy, mean over heads); the LLM gets exactly those projected patches, no [CLS]."""
    from transformers import VideoLlavaForConditionalGeneration

    from pruning.models.tiny_video_llava import tiny_video_llava_dir

    ref = VideoLlavaForConditionalGeneration.from_pretrained(str(tiny_video_llava_dir()),
                                                             attn_implementation="eager").eval()
    with torch.no_grad():
        out = ref.model.video_tower(pixels(vlm, videos[0]), output_attentions=True, output_hidden_states=True)
        a = out.attentions[-2].mean(1)[:, 0, 1:]  # (8, 256): each frame's [CLS] row over its patches
        top = a.flatten().topk(budget).indices.sort().values  # (T,) joint over 2048
        want = ref.model.multi_modal_projector(out.hidden_states[-2][:, 1:]).flatten(0, 1)[top]  # (T, D)
    prep = vlm.prepare([VIDEO_QUESTIONS[0]], PrunePlan("vispruner", budget, {"ratio": 1.0}), vision=vis.take_samples([0]))
    got = prep.embeds[0][prep.batch.ids[0] == vlm.video_token_id]  # (T, D)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert prep.kept_per_frame == [torch.bincount(top // 256, minlength=8).tolist()]
    assert len(set(prep.kept_per_frame[0])) > 1  # joint: frames get unequal shares, not T/8 each


ENCODER = ["vispruner", "visionzip", "divprune", "random", "spatial"]


@pytest.mark.parametrize("strategy", ENCODER)
def test_exactly_t_tokens_enter_the_llm(vlm, vis, strategy):
    T = 227
    params = {"ratio": 0.5} if strategy == "vispruner" else {}
    outs = vlm.generate(VIDEO_QUESTIONS, PrunePlan(strategy, T, params), vision=vis, max_new_tokens=2,
                        sample_keys=["a", "b", "c"])
    prep = vlm.prepare(VIDEO_QUESTIONS, PrunePlan(strategy, T, params), vision=vis, sample_keys=["a", "b", "c"])
    assert (prep.batch.ids == vlm.video_token_id).sum(1).tolist() == [T] * 3  # slots in the first decoder layer
    tc = vlm.text_config
    for o in outs:
        assert (o.n_visual_in, o.n_visual_kept) == (2056, T)
        assert o.flops == prefill_flops(tc, T, o.n_text) and o.kv_bytes == kv_cache_bytes(tc, T, 4)
        assert len(o.kept_per_frame) == 8
        # VisionZip's first token is the [CLS] summary of the video (no frame): T - 1 patch positions
        assert sum(o.kept_per_frame) == (T - 1 if strategy == "visionzip" else T)


def test_fastv_prunes_the_whole_visual_run_at_layer_k(vlm, vis):
    T, K = 114, 2
    outs = vlm.generate(VIDEO_QUESTIONS, PrunePlan("fastv", T, {"layer": K}), vision=vis, max_new_tokens=2)
    depth = vlm.spec.depth
    for o in outs:
        assert o.kept_per_layer == [2056] * K + [T] * (depth - K)
        assert o.n_visual_kept == T and sum(o.kept_per_frame) == T and len(o.kept_per_frame) == 8
        assert o.flops == prefill_flops(vlm.text_config, 2056, o.n_text, prune_layer=K, n_visual_after=T)


PLANS = [PrunePlan("keep_all"), PrunePlan("vispruner", 227, {"ratio": 0.5}), PrunePlan("random", 114),
         PrunePlan("fastv", 114, {"layer": 2})]


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.key)
def test_batched_equals_per_sample_on_videos(vlm, vis, plan):
    keys = ["a", "b", "c"]
    batched = vlm.generate(VIDEO_QUESTIONS, plan, vision=vis, max_new_tokens=4, sample_keys=keys)
    for i in range(3):
        one = vlm.generate([VIDEO_QUESTIONS[i]], plan, vision=vis.take_samples([i]), max_new_tokens=4,
                           sample_keys=[keys[i]])[0]
        b = batched[i]
        assert (one.text, one.n_visual_kept, one.n_text, one.flops, one.kv_bytes, one.kept_per_frame) == \
               (b.text, b.n_visual_kept, b.n_text, b.flops, b.kv_bytes, b.kept_per_frame)


def test_budgets_and_bad_videos(vlm, vis):
    with pytest.raises(ValueError, match="exceeds the 2048 visual tokens"):
        vlm.generate(VIDEO_QUESTIONS[:1], PrunePlan("vispruner", 2049), vision=vis.take_samples([0]))
    with pytest.raises(ValueError, match="video 1 has no frames"):
        vlm.encode([make_video(3), []])
    with pytest.raises(TypeError, match="video 0 frame 1 is NoneType"):
        vlm.encode([[make_video(1)[0], None]])
    full = vlm.generate(VIDEO_QUESTIONS[:1], PrunePlan("vispruner", 2048), vision=vis.take_samples([0]))[0]
    assert full.n_visual_kept == 2048 and full.kept_per_frame == [256] * 8  # T = N: every patch, no [CLS]
