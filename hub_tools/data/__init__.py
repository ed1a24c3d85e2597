"""Image-caption pairs: one record type, streaming readers, and validation with reasons.

Readers never hold the whole set in memory and never drop a record silently: every input record
comes out either as an :class:`ImageCaptionPair` or as a :class:`Rejection` with its reason.

Supported sources (:func:`read_pairs` picks by ``spec``):

- ShareGPT / LLaMA-Factory JSON or JSONL (``images`` + ``messages``; ``<image>`` marker in the
  first user turn; the caption is the first assistant turn) — the layout of the released
  ``image_caption_pairs.json``;
- an image folder with ``metadata.jsonl`` (the ``datasets`` ImageFolder convention:
  ``file_name`` + a caption column);
- a Hugging Face dataset by local path or repo id, read with ``load_dataset(streaming=True)``,
  with ``image_column`` / ``caption_column`` mapping.

This package's ``__init__`` only re-exports: the record and its text checks live in :mod:`~hub_tools.data.pairs`,
the image-path policy and decoding in :mod:`~hub_tools.data.images`, the readers in :mod:`~hub_tools.data.readers`
(JSON streaming: :mod:`~hub_tools.data.json_stream`; layout diagnosis: :mod:`~hub_tools.data.layout`; the input's
fingerprint: :mod:`~hub_tools.data.fingerprint`).
"""

from hub_tools.data.images import (
    MAX_IMAGE_PIXELS,
    dataset_image_root,
    load_image,
    resolve_image,
    resolve_image_path,
    to_rgb,
    validate,
)
from hub_tools.data.json_stream import (
    MAX_JSON_ELEMENT_CHARS,
    iter_json_array,
    iter_json_array_records,
    iter_json_records,
)
from hub_tools.data.pairs import (
    CHAT_TOKEN,
    IMAGE_MARKER,
    MAX_CAPTION_CHARS,
    ImageCaptionPair,
    Record,
    Rejection,
    check_caption,
    check_chat_tokens,
    check_text,
    json_kind,
    make_id,
    reason_kind,
    utf8_problem,
)
from hub_tools.data.readers import (
    SUPPORTED,
    TABLE_FORMATS,
    parse_sharegpt_record,
    read_hf_dataset,
    read_imagefolder,
    read_pairs,
    read_sharegpt,
    read_table,
)
from hub_tools.errors import BadInput

__all__ = [
    "BadInput",
    "CHAT_TOKEN",
    "IMAGE_MARKER",
    "ImageCaptionPair",
    "MAX_CAPTION_CHARS",
    "MAX_IMAGE_PIXELS",
    "MAX_JSON_ELEMENT_CHARS",
    "Record",
    "Rejection",
    "SUPPORTED",
    "TABLE_FORMATS",
    "check_caption",
    "check_chat_tokens",
    "check_text",
    "dataset_image_root",
    "iter_json_array",
    "iter_json_array_records",
    "iter_json_records",
    "json_kind",
    "load_image",
    "make_id",
    "parse_sharegpt_record",
    "read_hf_dataset",
    "read_imagefolder",
    "read_pairs",
    "read_sharegpt",
    "read_table",
    "reason_kind",
    "resolve_image",
    "resolve_image_path",
    "to_rgb",
    "utf8_problem",
    "validate",
]
