"""Build of the Python package ntpool: the extension ntpool._ntpool holds
the whole C core, the SWIG wrapper and the hand-written glue, so no
separate library build is needed.

SWIG runs here, before anything else is built: setuptools runs build_py
before build_ext, and the SWIG-generated ntpool/_raw.py would otherwise be
missed (pypa/setuptools#1241). An sdist carries the generated files and
builds without SWIG.
"""

import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
INTERFACE = os.path.join("bindings", "ntpool.i")
WRAPPER = os.path.join("bindings", "generated", "ntpool_python_wrap.c")
PROXY = os.path.join("python", "ntpool", "_raw.py")
SWIG_INPUTS = [
    INTERFACE,
    os.path.join("bindings", "python_typemaps.i"),
    os.path.join("core", "include", "ntpool.h"),
]


def _find_swig():
    for name in ("swig", "swig4.0"):
        path = shutil.which(name)
        if path:
            return path
    try:  # the PyPI package, when its script directory is not on PATH
        import swig  # noqa: PLC0415

        path = os.path.join(swig.BIN_DIR, "swig")
        if os.path.exists(path):
            return path
    except (ImportError, AttributeError):
        pass
    return None


def generate_wrapper(force=False):
    """Run SWIG when its inputs are newer than its outputs."""
    os.chdir(HERE)
    outputs = [WRAPPER, PROXY]
    if not force and all(os.path.exists(p) for p in outputs):
        newest_input = max(os.path.getmtime(p) for p in SWIG_INPUTS)
        if min(os.path.getmtime(p) for p in outputs) >= newest_input:
            return
    swig = _find_swig()
    if swig is None:
        if all(os.path.exists(p) for p in outputs):
            return  # an sdist: use the wrapper it carries
        sys.exit("ntpool: SWIG >= 4.1 is needed to build from a checkout "
                 "(pip installs it from PyPI as a build requirement; or "
                 "apt-get install swig)")
    os.makedirs(os.path.dirname(WRAPPER), exist_ok=True)
    subprocess.check_call([
        swig, "-python", "-interface", "_ntpool",
        "-Icore/include", "-Ibindings",
        "-outdir", os.path.dirname(PROXY), "-o", WRAPPER, INTERFACE,
    ])


class BuildPy(build_py):
    def run(self):
        generate_wrapper()
        super().run()


class BuildExt(build_ext):
    def run(self):
        generate_wrapper()
        super().run()


class Sdist(sdist):
    def run(self):
        generate_wrapper()
        super().run()


def _liburing():
    """Use io_uring for file I/O when Debian's liburing-dev is installed,
    as the CMake build does."""
    for d in ("/usr/include", "/usr/local/include"):
        if os.path.exists(os.path.join(d, "liburing.h")):
            return [("NTP_HAVE_LIBURING", None)], ["uring"]
    return [], []


uring_macros, uring_libs = _liburing()

extension = Extension(
    "ntpool._ntpool",
    sources=sorted(glob.glob(os.path.join("core", "src", "*.c")))
    + [
        os.path.join("bindings", "python_glue.c"),
        os.path.join("bindings", "python_gil.c"),
        WRAPPER,
    ],
    include_dirs=[os.path.join("core", "include"), os.path.join("core", "src"),
                  "bindings"],
    # SWIGPYTHON_NOGIL: SWIG >= 4.4 declares Py_mod_gil (free-threaded
    # builds need not re-enable the GIL); older SWIG: see python_typemaps.i.
    define_macros=[("_GNU_SOURCE", None), ("SWIGPYTHON_NOGIL", None)]
    + uring_macros,
    libraries=["pthread", "dl"] + uring_libs,
    extra_compile_args=["-std=gnu11", "-fvisibility=hidden",
                        "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
)

setup(
    ext_modules=[extension],
    # Not build/: that is the CMake build directory.
    options={"build": {"build_base": os.path.join("build-python",
                                                  "setuptools")},
             # the core is ~40 files: compile them in parallel
             "build_ext": {"parallel": os.cpu_count() or 2}},
    cmdclass={"build_py": BuildPy, "build_ext": BuildExt, "sdist": Sdist},
)
