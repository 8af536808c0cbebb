"""Upload an exported family to the Hugging Face Hub as a dataset repository.

    distilled-registry push kip_digits --repo-id ORG/NAME            # export to a temporary folder, upload
    distilled-registry push kip_digits --repo-id ORG/NAME --folder DIR   # upload an existing export

The token is ``huggingface_hub``'s own: ``$HF_TOKEN`` or the one ``hf auth login`` stored. This
module never reads it into anything it writes or prints; before uploading it checks that the token
appears in none of the files to upload (and refuses, without showing it, if it does).

What goes up is exactly the export's files, named one by one (``upload_folder(allow_patterns=[...])``),
never "the folder": ``README.md`` and ``<config>/{train-00000-of-00001.parquet, preview.png,
labels.png, provenance.json, transform.npz, croissant.json}`` (what ``export-hf`` writes). A folder holding anything
else (a symbolic link, which may point at a private key; a dotfile such as ``.env``; a stray file or
folder) is refused with one line naming it: nothing is skipped silently. FAMILY is checked as a
release family name before anything else; a Hub that cannot be reached is one line too.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import tempfile
from pathlib import Path

from distilled_registry import names, output_folder
from distilled_registry.errors import UsageError, UserError

from . import huggingface_export

REPO_ID_RE = re.compile(r"[A-Za-z0-9][\w.\-]*/[A-Za-z0-9][\w.\-]*\Z")


class PushError(UserError):
    """A push that cannot go ahead: a bad repository id, no token, a token inside a file, a Hub error."""


class PushUsageError(PushError, UsageError):
    """A bad ``--repo-id`` or ``--folder`` on the command line (exit 2)."""


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
        raise PushUsageError(f"bad --repo-id {repo_id!r}: expected ORG/NAME, e.g. my-org/kip_digits")
    return repo_id


def check_family(family: str) -> str:
    """``family`` if it is a release family name (``kip_digits``); BadNameError (a usage error) otherwise."""
    rn = names.parse(family, need_config=False)
    if rn.config is not None or rn.version is not None:
        raise names.BadNameError(f"push takes a release family (e.g. {rn.family}), not the release name {family!r}")
    return rn.family


def files_to_upload(folder: str | Path) -> list[str]:
    """The files of the export at ``folder``, relative paths, sorted: exactly what ``export-hf`` writes.

    ``README.md`` and, in each config folder, files named in ``huggingface_export.EXPORT_FILES``; all
    regular files. Raises PushError naming the first entry that is anything else (a symbolic link
    anywhere, a hidden file, a stray file or folder): such a folder is refused, not filtered.
    """
    folder = Path(folder)
    card = huggingface_export.CARD
    if folder.is_symlink() or not folder.is_dir() or not (folder / card).is_file():
        raise PushUsageError(f"--folder {str(folder)!r} is not a folder holding {card} (or it is a symbolic link); "
                             "make one with `distilled-registry export-hf FAMILY --out DIR`")
    files, foreign = [], []

    def refuse(entry: Path, why: str) -> None:
        foreign.append(f"{entry.relative_to(folder)!s} ({why})")

    marker = output_folder.marker_name(huggingface_export.EXPORT)
    for e in sorted(folder.iterdir()):
        if e.name == marker and e.is_file() and not e.is_symlink():
            continue  # export-hf's own marker (rule A): not part of the dataset, never uploaded
        if e.is_symlink():
            refuse(e, "a symbolic link")
        elif e.name.startswith("."):
            refuse(e, "a hidden file")
        elif e.name == card and e.is_file():
            files.append(card)
        elif e.is_dir() and names.CONFIG_RE.match(e.name):
            for f in sorted(e.iterdir()):
                if f.is_symlink():
                    refuse(f, "a symbolic link")
                elif f.name.startswith("."):
                    refuse(f, "a hidden file")
                elif f.name in huggingface_export.EXPORT_FILES and f.is_file():
                    files.append(f"{e.name}/{f.name}")
                else:
                    refuse(f, "not a file export-hf writes")
        else:
            refuse(e, "not a file export-hf writes")
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise PushError(f"{str(folder)!r} holds {foreign[0]}{more}: not part of an export-hf folder; refusing to "
                        "upload it. Remove it, or push without --folder to export afresh")
    return files


def _network_errors() -> tuple[type, ...]:
    """The exceptions the Hub client raises when the Hub cannot be reached (its HTTP library's)."""
    out: list[type] = [OSError]
    for module, attr in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            out.append(getattr(importlib.import_module(module), attr))
        except (ImportError, AttributeError):
            continue
    return tuple(out)


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
    family = check_family(family)
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
                                     revision=revision, commit_message=f"distilled-registry: {family}",
                                     allow_patterns=list(files))  # these files, by name; nothing else
        except HfHubHTTPError as e:
            status = getattr(getattr(e, "response", None), "status_code", None)
            hint = (" (log in with `hf auth login` or set $HF_TOKEN to a token with write access)"
                    if status in (401, 403) else "")
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise PushError(f"the Hub refused the upload to {repo_id}: HTTP {status}: {first}{hint}") from None
        except _network_errors() as e:  # no network, a proxy, DNS: the HTTP library's own errors
            raise PushError(f"cannot reach the Hub to upload {repo_id}: {type(e).__name__}: {e}; check the network "
                            "(or $HF_ENDPOINT) and push again") from None
        url = getattr(info, "commit_url", None) or (str(info) if info is not None else None)
        return Push(repo_id, str(folder), files, uploaded=True, commit_url=url)
