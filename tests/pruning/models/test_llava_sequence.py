"""Sequence plumbing: image span from the image token id, splicing, left padding, masks, kept-index maps."""
import pytest
import torch

from pruning.models.sequence import attention_mask, image_span, keep_index, left_pad, splice

IMG = 9


def test_image_span_and_splice():
    ids = torch.tensor([1, 5, IMG, IMG, IMG, 6, 7])
    assert image_span(ids, IMG) == (2, 3)
    new, start = splice(ids, IMG, 2)
    assert new.tolist() == [1, 5, IMG, IMG, 6, 7] and start == 2
    with pytest.raises(ValueError, match="no image token"):
        image_span(torch.tensor([1, 2]), IMG)
    with pytest.raises(ValueError, match="more than one"):
        image_span(torch.tensor([IMG, 1, IMG]), IMG)


def test_left_pad_positions_and_spans():
    b = left_pad([torch.tensor([1, IMG, 2]), torch.tensor([1, 3, IMG, IMG, 2])], [1, 2], [1, 2], pad_id=0)
    assert b.ids.tolist() == [[0, 0, 1, IMG, 2], [1, 3, IMG, IMG, 2]]
    assert b.valid.tolist() == [[False, False, True, True, True], [True] * 5]
    assert b.pos[0, 2:].tolist() == [0, 1, 2] and b.pos[1].tolist() == [0, 1, 2, 3, 4]
    assert b.img_start.tolist() == [3, 2] and b.n_text == [2, 3]


def test_keep_index_keeps_text_and_chosen_image_tokens():
    # L = 7, image spans [2, 5) and [1, 4); keep image tokens 0 and 2 of each
    idx = keep_index(7, torch.tensor([2, 1]), 3, torch.tensor([[0, 2], [2, 0]]))
    assert idx.tolist() == [[0, 1, 2, 4, 5, 6], [0, 1, 3, 4, 5, 6]]


def test_sdpa_mask_is_causal_padded_and_never_empty():
    valid = torch.tensor([[False, True, True], [True, True, True]])
    m = attention_mask(valid, 3, "sdpa", torch.float32)[:, 0]  # (B, q, S)
    assert m[0].tolist() == [[True, False, False], [False, True, False], [False, True, True]]
    assert m[1].tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    dec = attention_mask(valid, 1, "sdpa", torch.float32)[:, 0]  # decode: last query sees every real key
    assert dec.tolist() == [[[False, True, True]], [[True, True, True]]]
    add = attention_mask(valid, 3, "eager", torch.float32)
    assert bool((add == 0).eq(attention_mask(valid, 3, "sdpa", torch.float32)).all())
    assert attention_mask(valid, 1, "flash_attention_2", torch.float16).tolist() == [[0, 1, 1], [1, 1, 1]]
