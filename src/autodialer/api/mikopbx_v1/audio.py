"""GET /audio answers: ``{"id","name","path"}`` per upload, ``id`` a string like every database value the original
serves; ``path`` is the wav rendition, which exists."""

from __future__ import annotations

from collections.abc import Sequence

from autodialer.services.audio_library import StoredAudio


def audio_list(files: Sequence[StoredAudio]) -> list[dict[str, str]]:
    return [{"id": str(f.id), "name": f.name, "path": f.path} for f in files]
