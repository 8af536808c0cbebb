"""Upload an exported family to the Hugging Face Hub as a dataset repository.

    distilled-registry push kip_digits --repo-id ORG/NAME            # export to a temporary folder, upload
    distilled-registry push kip_digits --repo-id ORG/NAME --folder DIR   # upload an existing export

The token is ``huggingface_hub``'s own: ``$HF_TOKEN`` or the one ``hf auth login`` stored. This
module never reads it into anything it writes or prints; before uploading it checks that the token
appears in none of the files to upload (and refuses, without showing it, if it does).
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from pathlib import Path

from distilled_registry.errors import UserError

from . import huggingface_export

REPO_ID_RE = re.compile(r"[A-Za-z0-9][\w.\-]*/[A-Za-z0-9][\w.\-]*\Z")


class PushError(UserError):
    """A push that cannot go ahead: a bad repository id, no token, a token inside a file, a Hub error."""


@dataclasses.dataclass
class Push:
    """What was (or, with ``dry_run``, would be) uploaded."""

    repo_id: str
    folder: str
    files: list[str]
    uploaded: bool
    commit_url: str | None = None


def check_repo_id(repo_id: str) -> str:
    if not isinstance(repo_id, str) or not REPO_ID_RE.match(repo_id) or ".." in repo_id:
        raise PushError(f"bad --repo-id {repo_id!r}: expected ORG/NAME, e.g. my-org/kip_digits")
    return repo_id


def files_to_upload(folder: str | Path) -> list[str]:
    """Every file under ``folder`` (relative paths, sorted); the folder must hold a dataset card."""
    folder = Path(folder)
    if not (folder / huggingface_export.CARD).is_file():
        raise PushError(f"{str(folder)!r} has no {huggingface_export.CARD}; make it with "
                        "`distilled-registry export-hf FAMILY --out DIR`")
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _refuse_token_in_files(folder: Path, files: list[str]) -> None:
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        return
    needle = token.encode()
    for f in files:
        if needle in (folder / f).read_bytes():
            raise PushError(f"{str(folder / f)!r} contains your Hugging Face token; refusing to upload it. "
                            "Remove the token from the file, then push again")


def push(family: str, repo_id: str, folder: str | Path | None = None, private: bool = False,
         revision: str | None = None, dry_run: bool = False, api=None) -> Push:
    """Export ``family`` (unless ``folder`` is given) and upload it to the dataset repo ``repo_id``.

    Args:
      family: the release family (used to export when ``folder`` is None).
      repo_id: ``ORG/NAME`` on the Hub.
      folder: an existing export to upload as it is.
      private: create the repository private (when it does not exist yet).
      revision: the branch to commit to (default: the main branch).
      dry_run: export and list the files, upload nothing.
      api: a ``huggingface_hub.HfApi`` (default: a new one, with the token from the environment or login).
    Raises:
      PushError: a bad repository id, no token, a token inside a file, or the Hub refused.
    """
    check_repo_id(repo_id)
    with tempfile.TemporaryDirectory(prefix="distilled-registry-push-") as tmp:
        if folder is None:
            folder = Path(tmp) / family
            huggingface_export.export_family(family, folder, repo_id=repo_id)
        folder = Path(folder)
        files = files_to_upload(folder)
        _refuse_token_in_files(folder, files)
        if dry_run:
            return Push(repo_id, str(folder), files, uploaded=False)
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        api = api or HfApi()
        try:
            api.create_repo(repo_id, repo_type="dataset", private=private or None, exist_ok=True)
            info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                                     revision=revision, commit_message=f"distilled-registry: {family}")
        except HfHubHTTPError as e:
            status = getattr(getattr(e, "response", None), "status_code", None)
            hint = (" (log in with `hf auth login` or set $HF_TOKEN to a token with write access)"
                    if status in (401, 403) else "")
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise PushError(f"the Hub refused the upload to {repo_id}: HTTP {status}: {first}{hint}") from None
        except OSError as e:  # no network
            raise PushError(f"cannot reach the Hub to upload {repo_id}: {type(e).__name__}: {e}") from None
        url = getattr(info, "commit_url", None) or (str(info) if info is not None else None)
        return Push(repo_id, str(folder), files, uploaded=True, commit_url=url)
