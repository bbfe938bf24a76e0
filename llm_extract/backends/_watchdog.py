"""Run llama.cpp's OpenAI-compatible server, and end it when the process that started it is gone.

Started as a script (``python _watchdog.py PARENT_PID SERVER_ARGS...``), not imported: it must not
pull in llm_extract. The parent stops the server itself on exit and on SIGTERM/SIGINT; this covers
what no handler can, a parent killed with SIGKILL, which would otherwise leave an orphaned server
holding a gigabyte and a CPU.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time


def _watch(parent: int) -> None:
    while os.getppid() == parent:  # re-parented (to init or a subreaper) once the parent dies
        time.sleep(0.5)
    os._exit(0)


def main() -> None:
    """Watch the parent in a daemon thread, then run ``python -m llama_cpp.server`` in this process."""
    parent = int(sys.argv[1])
    sys.argv = ["llama_cpp.server", *sys.argv[2:]]
    threading.Thread(target=_watch, args=(parent,), name="parent-watchdog", daemon=True).start()
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
