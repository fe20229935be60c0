"""Writing the user's files safely: checked before the work, replaced atomically, links kept.

Every file this library writes (model files, checkpoints, plots, predictions) goes through
:func:`write_atomically`, and the command line calls :func:`check_output` on every output path
before it starts training, so that a typo in a path costs seconds, not a training run.

The rules:

- an existing path that is not a regular file (a device such as ``/dev/null``, a FIFO, a
  socket, a directory) is refused and left alone;
- a symbolic link is followed: its target is replaced (atomically, in the target's directory)
  and the link itself is kept;
- the data go to a temporary file in the same directory, which is renamed over the target, so a
  crash or a full disk leaves the previous file whole;
- a new file gets the permissions the umask allows (``0o666 & ~umask``); an overwritten file
  keeps its mode.
"""

from __future__ import annotations

import os
import stat
import tempfile
from typing import Callable, IO


def _kind_of(mode: int) -> str:
    """A readable name of a non-regular file type."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def resolved_target(path, name: str = "output") -> str:
    """The file that writing ``path`` would replace: ``path`` itself, or a link's final target.

    Raises
    ------
    ValueError
        If that file exists and is not a regular file, or ``path`` is empty.
    """
    path = os.fspath(path)
    if not path:
        raise ValueError(f"{name}: expected a file path, got an empty string")
    target = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(mode):
        shown = path if target == os.path.abspath(path) else f"{path} (a link to {target})"
        raise ValueError(f"{name}: {shown} is {_kind_of(mode)}, not a regular file; refusing to "
                         "replace it (give a file path)")
    return target


def check_output(path, name: str = "output", inputs=()) -> str:
    """Check, before any work, that ``path`` can be written; return the file it will replace.

    Parameters
    ----------
    path : str or path-like
        The output path as the user gave it (named in every message).
    name : str
        The option or argument that gave it (``--output``, ``path``, ...).
    inputs : iterable of path-like
        Files this run reads; writing over one of them is refused.

    Raises
    ------
    ValueError
        If the path is ``-`` (commands that write to standard output check for it first), not a
        regular file, one of ``inputs``, or its directory is missing.
    PermissionError
        If its directory cannot be written.
    """
    if os.fspath(path) == "-":
        raise ValueError(f"{name}: '-' (standard output) is not a file this command can write; give a file path")
    target = resolved_target(path, name)
    for source in inputs:
        if source is not None and os.path.exists(source) and _same_file(source, target):
            raise ValueError(f"{name}: {os.fspath(path)} is also an input of this command; "
                             "writing it would destroy that input (choose another path)")
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise ValueError(f"{name}: cannot write {os.fspath(path)}: directory "
                         f"{os.path.dirname(os.fspath(path)) or directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"{name}: cannot write {os.fspath(path)}: directory {directory} "
                              "is not writable")
    return target


def check_distinct_outputs(outputs: dict) -> None:
    """Refuse, before any work, two outputs of one command that name the same path.

    Parameters
    ----------
    outputs : dict of str to path-like
        What the user called each output (``--output``, ``--plots``, ...) and its path, files
        and directories alike, existing or not (``None`` entries are skipped).

    Raises
    ------
    ValueError
        Naming both outputs and the path they share (one would overwrite the other).
    """
    seen: dict[str, str] = {}
    for name, path in outputs.items():
        if path is None:
            continue
        where = os.path.realpath(os.fspath(path))
        if where in seen:
            raise ValueError(f"{name}: {os.fspath(path)} is also where {seen[where]} goes; one would "
                             "overwrite the other (choose different paths)")
        seen[where] = name


def _same_file(a, b) -> bool:
    """Whether two paths name one file (through links, other spellings and hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # b does not exist yet
        return False


def _current_umask() -> int:
    mask = os.umask(0o022)  # the only portable way to read it is to set it and put it back
    os.umask(mask)
    return mask


def write_atomically(path, write: Callable[[IO[bytes]], None], name: str = "path") -> None:
    """Call ``write(handle)`` on a temporary file, then rename it over ``path``'s target.

    Parameters
    ----------
    path : str or path-like
        Where the file goes; a symbolic link is followed and kept.
    write : callable
        Writes the content to the binary handle it is given.
    name : str
        The argument named in error messages.

    Raises
    ------
    ValueError
        If ``path`` exists and is not a regular file (see the module docstring).
    OSError
        If the directory is missing or not writable (the message names ``path``).
    """
    target = resolved_target(path, name)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_current_umask()
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(target),
                                                 dir=os.path.dirname(target))
    except OSError as error:
        raise type(error)(error.errno, f"{name}: cannot write {os.fspath(path)}: "
                          f"{error.strerror}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        if isinstance(error, OSError) and error.errno is not None and error.filename is None:
            # (a full disk or a quota names no file: say which one could not be written)
            raise type(error)(error.errno, f"{name}: cannot write {os.fspath(path)}: {error.strerror}; "
                              "the previous file, if any, is unchanged") from None
        raise
