"""The web app: one static page and four routes, on Starlette (served by uvicorn).

    GET  /                       the page (static/index.html, its script and style under /static)
    GET  /api/setup              the examples, checkpoints and upload limit the page may use
    GET  /api/examples/{name}    an example's audio, by a name from /api/setup
    POST /api/ask                multipart form: ``file`` or ``example``, the question
                                 (:mod:`.questions`), ``checkpoint``, optionally a ``job`` name;
                                 the answer (:mod:`.payload`)
    GET  /api/progress/{job}     ``{"done", "total"}`` windows of the running answer named ``job``
                                 (:mod:`.progress`; 404 when none runs under that name)

A user error answers ``{"error": "<the CLI's one-line message>"}`` (400; 404 for an unknown
example, 413 for a body over the limit) and the app goes on serving. Reading the audio and
answering run in worker threads, so a long answer does not stall the page's other requests;
answers themselves take turns (:class:`.models.ModelShelf`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..errors import FramestampError, MissingDependencyError, collecting_warnings, one_line

try:
    import python_multipart  # noqa: F401  (Starlette parses uploads with it)
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles
    import uvicorn
except ImportError as missing:
    raise MissingDependencyError(f"framestamp serve needs starlette, uvicorn and python-multipart ({missing.name} "
                                 "is missing): pip install 'framestamp[serve]'") from None  # fmt: skip

from ..audio import AudioRead
from .config import ServeConfig
from .limits import BodySizeLimit
from .models import ModelShelf, installed_shipped_names
from .payload import answer_payload
from .progress import JobBoard, check_job_name
from .questions import DEFAULT_CHECKPOINTS, Question
from .sources import Examples, UnknownExampleError, read_upload

STATIC_DIR = Path(__file__).parent / "static"
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1"]
log = logging.getLogger(__name__)


def run(config: ServeConfig) -> None:
    """Serve the app for ``config`` until interrupted (Ctrl-C)."""
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="warning")


def create_app(config: ServeConfig) -> Starlette:
    """The app for ``config`` (no model is loaded until a question needs it)."""
    middleware = [Middleware(BodySizeLimit, max_bytes=config.max_upload_bytes)]
    if config.loopback:  # a page on another site cannot reach the app through a name it controls (DNS rebinding)
        names = list(dict.fromkeys(LOOPBACK_NAMES + [config.host]))
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=names))
    routes = [
        Route("/", page),
        Route("/api/setup", setup),
        Route("/api/examples/{name}", example_audio),
        Route("/api/ask", ask, methods=["POST"]),
        Route("/api/progress/{job}", progress),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error})
    app.state.config = config
    app.state.shelf = ModelShelf(config.checkpoints or installed_shipped_names(), config.device)
    app.state.examples = Examples(config.examples_dir)
    app.state.jobs = JobBoard()
    return app


async def page(request: Request) -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


async def setup(request: Request) -> JSONResponse:
    """What the page may choose from; ``default_checkpoints``: each question's own checkpoint, used
    when the form names none (null when the server was given its checkpoints: the first is used)."""
    state = request.app.state
    defaults = None if state.config.checkpoints else {kind.value: name for kind, name in DEFAULT_CHECKPOINTS.items()}
    return JSONResponse({
        "examples": state.examples.names(),
        "checkpoints": state.shelf.names(),
        "default_checkpoints": defaults,
        "max_upload_bytes": state.config.max_upload_bytes,
    })  # fmt: skip


async def example_audio(request: Request) -> FileResponse | JSONResponse:
    try:
        return FileResponse(request.app.state.examples.path(request.path_params["name"]))
    except UnknownExampleError as error:
        return JSONResponse({"error": one_line(error)}, status_code=404)


async def ask(request: Request) -> JSONResponse:
    """Answer the form's question about its audio with its checkpoint (see the module's doc)."""
    state = request.app.state
    async with request.form(max_files=1, max_fields=16) as form:
        try:
            question = Question.from_form(form)
            checkpoint = _checkpoint(form.get("checkpoint"), question, state)
            job = form.get("job")
            job = check_job_name(job) if isinstance(job, str) and job else None
            name, audio = await run_in_threadpool(_read_source, form, state.examples)
            with state.jobs.tracking(job):
                payload = await run_in_threadpool(_answer, state.shelf, checkpoint, question, name, audio)
            return JSONResponse(payload)
        except UnknownExampleError as error:
            return JSONResponse({"error": one_line(error)}, status_code=404)
        except FramestampError as error:
            return JSONResponse({"error": one_line(error)}, status_code=400)
        except HTTPException:
            raise
        except Exception as error:  # a bug must not take the server down with it
            log.exception("answering failed")
            return JSONResponse({"error": one_line(f"internal error: {type(error).__name__}: {error}")}, status_code=500)


async def progress(request: Request) -> JSONResponse:
    """How many of its windows the answer named ``job`` has encoded (see :mod:`.progress`)."""
    try:
        state = request.app.state.jobs.get(check_job_name(request.path_params["job"]))
    except FramestampError as error:
        return JSONResponse({"error": one_line(error)}, status_code=400)
    if state is None:
        return JSONResponse({"error": "no answer is running under that job name"}, status_code=404)
    return JSONResponse(state)


def _checkpoint(asked: object, question: Question, state) -> str:
    """The checkpoint named in the form, else the question's own default (when the server offers
    the shipped ones), else the first one offered."""
    if isinstance(asked, str) and asked.strip():
        return asked.strip()
    return question.default_checkpoint if not state.config.checkpoints else state.config.checkpoints[0]


def _read_source(form, examples: Examples) -> tuple[str, AudioRead]:
    """(name, audio) of the form's uploaded ``file``, else of its ``example``."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        return read_upload(upload.file, upload.filename)
    example = form.get("example")
    if isinstance(example, str) and example:
        return example, examples.read(example)
    raise FramestampError("choose an example or upload an audio file")


def _answer(shelf: ModelShelf, checkpoint: str, question: Question, name: str, audio: AudioRead) -> dict:
    """The payload of ``question`` about ``audio``, answered by ``checkpoint`` while it is held."""
    started = time.perf_counter()
    with shelf.using(checkpoint) as model, collecting_warnings() as noted:
        result = question.ask(model, audio.waveform)
        notes = list(dict.fromkeys(list(audio.warnings) + noted()))
        payload = answer_payload(result, name, audio.waveform, notes, question.label)
    return payload | {"checkpoint": checkpoint, "method": model.method,
                      "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip


async def http_error(request: Request, error: HTTPException) -> JSONResponse:
    return JSONResponse({"error": one_line(error.detail)}, status_code=error.status_code)
