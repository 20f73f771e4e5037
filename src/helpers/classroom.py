"""Class mode: the student set of the lessons, served by Voilà to a whole class from one machine (``make class``).

Why Voilà rather than JupyterLab: a student sees the lesson as a page, never code or a file browser, and the
kernel accepts only widget messages (Voilà refuses ``execute_request``), so nobody can print an answer key. Each
open page gets its own kernel; the page's kernel is shut down when the tab closes, and kernels left idle without a
connection are culled. One JupyterLab server would share one workspace and one file tree among all students.

What this module adds to a plain ``voila``:

- :func:`write_student_set`: the lessons with solutions and teaching notes removed (:func:`teaching.student_copy`);
- :class:`ClassKernelManager`: the app's kernel cap and error pages (:mod:`helpers.serving`: HTTP 503 with a
  reason instead of an endless spinner when the class is full or a kernel cannot start), worded for students;
- the served set of lessons, with the app's template (nothing fetched from the network).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from traitlets import Integer, Unicode

from helpers import paths, serving

#: Where ``make class`` writes the student set (git-ignored build output).
DEFAULT_STUDENT_SET = paths.REPO_ROOT / "build" / "class"
DEFAULT_MAX_KERNELS = 30
DEFAULT_CULL_IDLE_S = 1200
DEFAULT_PORT = 8866
LESSON_PATTERN = "[5-9]0_lesson_*.ipynb"


def lessons(notebooks: Path | None = None) -> list[Path]:
    """The lesson notebooks, in order."""
    return sorted((notebooks or paths.notebooks_dir()).glob(LESSON_PATTERN))


def write_student_set(target: Path = DEFAULT_STUDENT_SET, notebooks: Path | None = None) -> list[Path]:
    """Write the student copy of every lesson into ``target`` (emptied first); return the files written.

    The copies keep the lesson file names, so Voilà lists them in lesson order. They run from ``target``:
    ``helpers`` finds the data through the installed package (or ``EXINF_DATA_DIR``), not a relative path.
    """
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written = []
    for lesson in lessons(notebooks):
        copy = target / lesson.name
        nbformat.write(_student_copy(nbformat.read(lesson, as_version=4)), copy)
        written.append(copy)
    return written


def _student_copy(notebook):
    from helpers.teaching import student_copy

    return student_copy(notebook)


class ClassKernelManager(serving.CappedKernelManager):
    """The app's kernel manager (a cap, readable errors), speaking to students and their teacher."""

    max_kernels = Integer(DEFAULT_MAX_KERNELS, config=True, help="Most kernels (open lesson pages) at once.")
    full_reason = Unicode("The class is full", config=True)
    full_message = Unicode(
        "All {max_kernels} places of this class are in use. Close a lesson tab you no longer need, wait a minute "
        "and reload; or ask your teacher to raise the limit (make class CLASS_MAX_KERNELS=N).",
        config=True,
    )
    failed_reason = Unicode("The lesson could not start", config=True)
    failed_advice = Unicode(
        "Reload the page in a minute; if it fails again, tell your teacher: the class server's log names the cause.",
        config=True,
    )


def voila_command(
    student_set: Path,
    port: int = DEFAULT_PORT,
    max_kernels: int = DEFAULT_MAX_KERNELS,
    cull_idle_s: int = DEFAULT_CULL_IDLE_S,
    ip: str = "127.0.0.1",
) -> list[str]:
    """The Voilà command line that serves ``student_set`` to a class (one kernel per open lesson page)."""
    return serving.voila_command(
        student_set, port=port, max_kernels=max_kernels, cull_idle_s=cull_idle_s, manager=ClassKernelManager, ip=ip
    )


def main(student_set: Path = DEFAULT_STUDENT_SET, port: int = DEFAULT_PORT, max_kernels: int = DEFAULT_MAX_KERNELS,
         cull_idle_s: int = DEFAULT_CULL_IDLE_S, ip: str = "127.0.0.1") -> int:  # fmt: skip
    """Write the student set and serve it until interrupted (``exinf class``)."""
    written = write_student_set(student_set)
    print(f"student set: {len(written)} lessons in {student_set}")
    print(f"class server: http://{ip}:{port}/ (at most {max_kernels} open lessons; Ctrl+C stops it)")
    return serving.run(voila_command(student_set, port, max_kernels, cull_idle_s, ip))
