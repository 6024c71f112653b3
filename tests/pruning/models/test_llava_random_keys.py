"""`random` through load_vlm(...).generate(...) without sample_keys: keyed on the image's content, not its batch row,
so batched equals per-sample and a reordered batch draws the same tokens for each image."""
import torch

from pruning import PrunePlan, VisionTokens
from pruning.models.llava import content_key
from pruning.strategies.random_select import RandomSelect
from tests.pruning.models.images import QUESTIONS, make_images

PLAN = PrunePlan("random", 32)


def image_spans(vlm, prep):
    """(n_img, D) LLM-input image embeddings per sample of a prepared batch."""
    return [prep.embeds[b][prep.batch.ids[b] == vlm.image_token_id] for b in range(prep.embeds.shape[0])]


def test_content_keys_come_from_pixels(vlm, images, vision):
    keys = vision.extra["content_keys"].tolist()
    assert keys == [content_key(im.convert("RGB")) for im in images]
    assert len(set(keys)) == 3
    # one image encoded alone has the key it has in the batch; a one-pixel change changes it
    assert vlm.encode(images[1:2]).extra["content_keys"].tolist() == keys[1:2]
    edited = images[1].copy()
    edited.putpixel((0, 0), (255, 254, 253))
    assert content_key(edited) != keys[1]


def test_batched_equals_per_sample_without_sample_keys(vlm, vision):
    batched = image_spans(vlm, vlm.prepare(QUESTIONS, PLAN, vision=vision))
    for i in range(3):
        single = image_spans(vlm, vlm.prepare([QUESTIONS[i]], PLAN, vision=vision.take([i])))[0]
        assert single.shape == (32, batched[i].shape[1])
        assert torch.equal(single, batched[i])
    # another batch order: each image keeps its draw
    order = [2, 0, 1]
    permuted = image_spans(vlm, vlm.prepare([QUESTIONS[i] for i in order], PLAN, vision=vision.take(order)))
    for row, i in enumerate(order):
        assert torch.equal(permuted[row], batched[i])
    # what was spliced is the draw keyed by each image's pixel hash, and the draws differ across images
    # (not one subset for every row), so the equalities above are not vacuous
    sel = RandomSelect().select(vision, 32).indices  # vision.extra["content_keys"]
    want = RandomSelect().select(VisionTokens(vision.features, vision.attention,
                                              extra={"sample_keys": vision.extra["content_keys"]}), 32).indices
    assert torch.equal(sel, want) and len({tuple(r) for r in sel.tolist()}) == 3
    for i in range(3):
        torch.testing.assert_close(batched[i], vision.extra["projected"][i, sel[i]], atol=1e-6, rtol=1e-6)


def test_generate_without_keys_matches_per_sample_and_images_path(vlm, images, vision):
    outs = vlm.generate(QUESTIONS, PLAN, vision=vision, max_new_tokens=4)
    for i in range(3):
        alone = vlm.generate([QUESTIONS[i]], PLAN, images=[images[i]], max_new_tokens=4)[0]
        assert (alone.text, alone.n_visual_kept, alone.flops) == (outs[i].text, outs[i].n_visual_kept, outs[i].flops)


def test_same_image_twice_draws_the_same_tokens(vlm):
    img = make_images(1, seed=5)[0]
    vis = vlm.encode([img, img])
    a, b = image_spans(vlm, vlm.prepare(QUESTIONS[:2], PLAN, vision=vis))
    torch.testing.assert_close(a, b)
