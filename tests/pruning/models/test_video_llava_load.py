"""tiny-video-llava: built offline from VideoLlavaConfig with Video-LLaVA's geometry, special tokens and
conversation format, saved, and loaded back through from_pretrained as Parts (no composite processor)."""
import json

from pruning.models import load_vlm, model_spec
from pruning.models.parts import Parts


def test_tiny_video_llava_is_a_real_checkpoint_directory_loaded_as_parts(tiny_dir):
    from pruning.models.tiny_video_llava import tiny_video_llava_dir

    path = tiny_video_llava_dir()
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["model_type"] == "video_llava" and cfg["architectures"] == ["VideoLlavaForConditionalGeneration"]
    vc = cfg["vision_config"]
    assert (vc["image_size"], vc["patch_size"]) == (224, 14)  # CLIP-L/14-224: 16 x 16 patches per frame
    assert cfg["vision_feature_layer"] == -2 and cfg["vision_feature_select_strategy"] == "default"
    assert (path / "chat_template.jinja").is_file()
    vlm = load_vlm("tiny-video-llava", device="cpu")
    assert isinstance(vlm.processor, Parts) and type(vlm.image_processor).__name__ == "VideoLlavaImageProcessor"
    tok = vlm.tokenizer
    assert tok.convert_tokens_to_ids("<image>") == vlm.model.config.image_token_id
    assert tok.convert_tokens_to_ids("<video>") == vlm.model.config.video_token_id
    text = tok.apply_chat_template([{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Why?"}]}],
                                   chat_template=vlm.chat_template, add_generation_prompt=True, tokenize=False)
    assert text == "USER: <video>\nWhy? ASSISTANT:"  # Video-LLaVA-7B-hf's prompt format (model card)
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id and ids.count(vlm.video_token_id) == 1
    spec = model_spec("tiny-video-llava")
    assert (spec.tokens, spec.per, spec.rows) == (2048, "video", 8) and spec == vlm.spec
    assert model_spec("video-llava-7b").depth == 32 and model_spec("video-llava-7b").tokens == 2048


def test_the_7b_shaped_alias_has_the_checkpoints_shapes():
    from pruning.models import model_config

    shaped, real = model_spec("video-llava-7b-shaped"), model_spec("video-llava-7b")
    assert shaped == real  # 2048 per video of 8 frames, 32 layers, 32 heads, 32 KV heads, head_dim 128
    a, b = model_config("video-llava-7b-shaped"), model_config("video-llava-7b")
    for k in ("hidden_size", "intermediate_size", "num_hidden_layers"):
        assert getattr(a.text_config, k) == getattr(b.text_config, k)
        assert getattr(a.vision_config, k) == getattr(b.vision_config, k)
