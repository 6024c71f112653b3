"""Parts: tokenizer, PIL image processor and chat template saved and loaded without a composite processor."""
from PIL import Image

from pruning.models.parts import Parts, load_parts
from pruning.models.tiny import CHAT_TEMPLATE, build_tokenizer


def test_parts_round_trip_through_a_directory(tmp_path):
    from transformers import CLIPImageProcessorPil

    tok = build_tokenizer()
    ip = CLIPImageProcessorPil(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336})
    Parts(tok, ip, CHAT_TEMPLATE).save_pretrained(tmp_path)
    back = load_parts(tmp_path, "transformers:CLIPImageProcessorPil")
    assert back.chat_template == CHAT_TEMPLATE
    assert back.tokenizer("Is there a red circle?")["input_ids"] == tok("Is there a red circle?")["input_ids"]
    img = Image.new("RGB", (50, 80), (200, 10, 10))
    a = back.image_processor(images=[img], return_tensors="pt")["pixel_values"]
    b = ip(images=[img], return_tensors="pt")["pixel_values"]
    assert a.shape == (1, 3, 336, 336) and (a == b).all()


def test_a_template_only_in_the_tokenizer_is_found(tmp_path):
    from transformers import CLIPImageProcessorPil

    tok = build_tokenizer()
    tok.chat_template = CHAT_TEMPLATE
    Parts(tok, CLIPImageProcessorPil(), None).save_pretrained(tmp_path)
    assert load_parts(tmp_path, "transformers:CLIPImageProcessorPil").chat_template == CHAT_TEMPLATE
