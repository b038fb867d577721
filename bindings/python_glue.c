/*
 * python_glue.c -- the hand-written half of ntpool._raw: the Python
 * objects that stand for ntpool objects, the callback trampolines, and
 * the functions SWIG cannot write (those that take callbacks, close
 * objects, or hold Python values for the core).
 *
 * OBJECTS. ntpool._ntpool.Object stands for any core object that is
 * created and closed (pool, cleanup group, work, timer, wait, I/O, kernel
 * handle, timer queue...); `kind` says which. Python classes derive from
 * it (ntpool.Work, ntpool.Event...). Its `ptr` is NULL before it is
 * opened and after it is closed, so a closed object is refused with a
 * ValueError instead of reaching freed memory. A call that drops the GIL
 * counts itself in `busy`; close() during such a call is carried out by
 * the last one to leave (ntpy_leave), so the core never sees a pointer
 * closed under a running call.
 *
 * LIFETIMES. A callback object owns a `pycb`, the context the core
 * passes to the trampoline. It holds strong references to the callable,
 * the Windows-style context, the Object itself (the `owner`, passed to
 * the callback), the pool object (for its error handler) and the
 * environment's cancel callback. They are dropped exactly once, with the
 * GIL, after the core's release hook said that no callback of the object
 * can run any more (python_gil.c). So an open object stays alive while
 * the core can call it, like the Windows object it mirrors, whether or
 * not Python still refers to it; close() (or the cleanup group, or the
 * interpreter's exit) ends that.
 *
 * INSTANCES. A callback gets an Instance that is valid only while it
 * runs; each pool thread reuses one Instance object as long as no
 * callback kept a reference to it. Objects named in completion actions
 * are kept alive, and counted busy, until the core has run the actions
 * after the trampoline returned.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "python_glue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <structmember.h>

#include "python_gil.h"

static const char *const kind_names[NTPY_KIND_COUNT] = {
    [NTPY_POOL] = "Pool",         [NTPY_GROUP] = "CleanupGroup",
    [NTPY_WORK] = "Work",         [NTPY_TIMER] = "Timer",
    [NTPY_WAIT] = "Wait",         [NTPY_IO] = "IO",
    [NTPY_HANDLE] = "Handle",     [NTPY_REGWAIT] = "RegisteredWait",
    [NTPY_TQUEUE] = "TimerQueue", [NTPY_TQTIMER] = "TimerQueueTimer",
};

static const char *
kind_name(int kind)
{
    if (kind > 0 && kind < NTPY_KIND_COUNT)
        return kind_names[kind];
    return "object";
}

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct pycb pycb;

typedef struct {
    PyObject_HEAD
    void *ptr;          /* the core object; NULL when not open */
    pycb *cb;           /* callback objects: their context */
    PyObject *target;   /* a wait or registered wait: the handle it is
                           set on; a timer-queue timer: its queue; a timer
                           queue: a list of weak references to its timers
                           (deleting the queue deletes them) */
    PyObject *weakrefs;
    int kind;           /* enum ntpy_kind; 0 before it is opened */
    int busy;           /* calls using ptr with the GIL dropped */
    bool borrowed;      /* the default pool, pseudo-handles: never closed */
    bool close_pending; /* close() came while busy */
    PyObject *completion; /* close_pending: the completion argument */
} NpObject;

typedef struct {
    PyObject_HEAD
    ntp_instance *inst; /* NULL once the callback returned */
} InstanceObject;

typedef struct {
    PyObject_HEAD
    ntp_env env;
    PyObject *pool;    /* the Object set as pool, or NULL */
    PyObject *group;   /* the cleanup group Object, or NULL */
    PyObject *cancel;  /* the cancel callback, or NULL */
    PyObject *library; /* the library object, or NULL */
} EnvObject;

typedef struct {
    PyObject_HEAD
    ntp_cs cs;
    bool alive; /* initialized and not deleted */
    int busy;   /* pending leave-on-return actions */
} CSObject;

/* An OVERLAPPED: one I/O operation's token and result. While the
 * operation is in flight its I/O object's context holds it (inflight),
 * and it holds the buffer the core reads into or writes from. */
typedef struct {
    PyObject_HEAD
    ntp_overlapped ov;
    PyObject *buffer; /* bytearray (read) or bytes (write) */
    PyObject *event;  /* the handle Object set on completion, or NULL */
    PyObject *io;     /* the IO Object while in flight */
    bool in_flight;
    bool done;
    bool is_read;
    ntp_status result;
    Py_ssize_t nbytes;
} OverlappedObject;

static PyTypeObject Object_Type;
static PyTypeObject Instance_Type;
static PyTypeObject Env_Type;
static PyTypeObject CS_Type;
static PyTypeObject Overlapped_Type;
static PyObject *no_context; /* the NO_CONTEXT sentinel */

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

void
ntpy_raise_status(ntp_status status)
{
    PyObject *args = Py_BuildValue("(is)", -status, ntp_strerror(status));
    if (args != NULL) {
        /* OSError(errno, msg) becomes the matching subclass itself. */
        PyObject *exc = PyObject_Call(PyExc_OSError, args, NULL);
        Py_DECREF(args);
        if (exc != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
    }
}

static PyObject *
raise_closed(PyObject *o)
{
    PyErr_Format(PyExc_ValueError, "operation on closed %s",
                 Py_TYPE(o)->tp_name);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Callback contexts                                                         */
/* ------------------------------------------------------------------------ */

struct pycb {
    ntpy_releasable rel; /* first: the release hook's ctx is the pycb */
    PyObject *func;
    PyObject *context;  /* NULL: the idiomatic call shape, without it */
    PyObject *owner;    /* the Object passed to the callback, or NULL */
    PyObject *pool;     /* the pool Object (error handler), or NULL */
    PyObject *cancel;   /* the environment's cancel callback, or NULL */
    PyObject *inflight; /* I/O: set of Overlapped in flight */
    int kind;
};

static void
pycb_finish(ntpy_releasable *r)
{
    pycb *c = (pycb *)r;
    NpObject *owner = (NpObject *)c->owner;
    if (owner != NULL && owner->cb == c) {
        /* Released by the core (closed by us, by a cleanup group, or a
         * one-shot that ran): the object is gone for Python too. */
        owner->cb = NULL;
        owner->ptr = NULL;
    }
    if (c->inflight != NULL) {
        /* Operations the close cancelled and silenced: never completed. */
        PyObject *it = PyObject_GetIter(c->inflight), *ov;
        while (it != NULL && (ov = PyIter_Next(it)) != NULL) {
            OverlappedObject *o = (OverlappedObject *)ov;
            o->in_flight = false;
            Py_CLEAR(o->io);
            Py_DECREF(ov);
        }
        Py_XDECREF(it);
        PyErr_Clear();
    }
    Py_XDECREF(c->func);
    Py_XDECREF(c->context);
    Py_XDECREF(c->owner);
    Py_XDECREF(c->pool);
    Py_XDECREF(c->cancel);
    Py_XDECREF(c->inflight);
    PyMem_RawFree(c);
}

/* A context for `func`; context NO_CONTEXT selects the idiomatic shape. */
static pycb *
pycb_new(int kind, PyObject *func, PyObject *context, EnvObject *env)
{
    if (!PyCallable_Check(func)) {
        PyErr_Format(PyExc_TypeError, "callback must be callable, not %.100s",
                     Py_TYPE(func)->tp_name);
        return NULL;
    }
    pycb *c = PyMem_RawCalloc(1, sizeof *c);
    if (c == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    c->rel.finish = pycb_finish;
    c->kind = kind;
    Py_INCREF(func);
    c->func = func;
    if (context != no_context) {
        Py_INCREF(context);
        c->context = context;
    }
    if (env != NULL) {
        Py_XINCREF(env->pool);
        c->pool = env->pool;
        Py_XINCREF(env->cancel);
        c->cancel = env->cancel;
    }
    return c;
}

/* Free a context the core never saw. GIL held. */
static void
pycb_discard(pycb *c)
{
    c->owner = NULL;
    pycb_finish(&c->rel);
}

/* ------------------------------------------------------------------------ */
/* Instances                                                                 */
/* ------------------------------------------------------------------------ */

static NTPY_TLS InstanceObject *tls_instance;

static InstanceObject *
instance_begin(ntp_instance *inst)
{
    InstanceObject *io = tls_instance;
    if (io == NULL) {
        io = PyObject_New(InstanceObject, &Instance_Type);
        if (io == NULL)
            return NULL;
        tls_instance = io;
    }
    io->inst = inst;
    return io;
}

static void
instance_end(InstanceObject *io)
{
    io->inst = NULL;
    if (Py_REFCNT(io) > 1) {
        /* The callback kept it: it stays invalid; the next callback of
         * this thread gets a fresh one. */
        tls_instance = NULL;
        Py_DECREF(io);
    }
}

static ntp_instance *
instance_check(InstanceObject *self)
{
    if (self->inst == NULL) {
        PyErr_SetString(PyExc_ValueError,
                        "the callback instance is used after its callback "
                        "returned");
    }
    return self->inst;
}

static void
instance_dealloc(InstanceObject *self)
{
    PyObject_Free(self);
}

static PyObject *
instance_repr(InstanceObject *self)
{
    if (self->inst == NULL)
        return PyUnicode_FromString("<ntpool.Instance (returned)>");
    return PyUnicode_FromFormat("<ntpool.Instance %p>", (void *)self->inst);
}

/* ------------------------------------------------------------------------ */
/* Objects                                                                   */
/* ------------------------------------------------------------------------ */

static PyObject *
object_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    NpObject *self = (NpObject *)type->tp_alloc(type, 0);
    return (PyObject *)self;
}

PyObject *
ntpy_wrap(int kind, void *ptr)
{
    NpObject *o = (NpObject *)object_new(&Object_Type, NULL, NULL);
    if (o == NULL)
        return NULL;
    o->kind = kind;
    o->ptr = ptr;
    return (PyObject *)o;
}

static PyObject *
wrap_borrowed(int kind, void *ptr)
{
    NpObject *o = (NpObject *)ntpy_wrap(kind, ptr);
    if (o != NULL)
        o->borrowed = true;
    return (PyObject *)o;
}

static bool
is_object(PyObject *o)
{
    return PyObject_TypeCheck(o, &Object_Type);
}

void *
ntpy_enter(PyObject *o, int kind, int allow_none, PyObject **held)
{
    *held = NULL;
    if (o == Py_None && allow_none)
        return NULL;
    if (!is_object(o) || (((NpObject *)o)->kind != kind &&
                          ((NpObject *)o)->kind != 0)) {
        PyErr_Format(PyExc_TypeError, "expected an ntpool %s, not %.100s",
                     kind_name(kind), Py_TYPE(o)->tp_name);
        return NULL;
    }
    NpObject *n = (NpObject *)o;
    if (n->ptr == NULL || n->close_pending) {
        raise_closed(o);
        return NULL;
    }
    n->busy++;
    Py_INCREF(o);
    *held = o;
    return n->ptr;
}

static void object_close_now(NpObject *self, PyObject *completion);

void
ntpy_leave(PyObject *held)
{
    if (held == NULL)
        return;
    NpObject *n = (NpObject *)held;
    if (--n->busy == 0 && n->close_pending) {
        /* The close asked for during the call. The call's own outcome
         * (maybe an exception) stays what the caller sees; a failure of
         * the deferred close can only be reported as unraisable. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *completion = n->completion;
        n->completion = NULL;
        n->close_pending = false;
        object_close_now(n, completion);
        Py_XDECREF(completion);
        if (PyErr_Occurred())
            PyErr_WriteUnraisable(held);
        PyErr_Restore(type, value, tb);
    }
    Py_DECREF(held);
}

/* The completion argument of the closes that take one: None (return at
 * once), INVALID_HANDLE_VALUE (wait for the callbacks) or an event. */
static int
completion_arg(PyObject *o, ntp_handle **out, PyObject **held)
{
    *held = NULL;
    if (o == NULL || o == Py_None) {
        *out = NULL;
        return 0;
    }
    if (PyLong_Check(o)) {
        long v = PyLong_AsLong(o);
        if (v == -1) { /* INVALID_HANDLE_VALUE */
            *out = NTP_COMPLETION_WAIT;
            return 0;
        }
        PyErr_SetString(PyExc_ValueError,
                        "completion must be None, INVALID_HANDLE_VALUE (-1) "
                        "or an event");
        return -1;
    }
    *out = ntpy_enter(o, NTPY_HANDLE, 0, held);
    return *out == NULL ? -1 : 0;
}

/* The object a weak reference points to (a new reference), or NULL. */
static PyObject *
weakref_target(PyObject *ref)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *o = NULL;
    if (PyWeakref_GetRef(ref, &o) < 0)
        PyErr_Clear();
    return o;
#else
    PyObject *o = PyWeakref_GetObject(ref);
    if (o == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (o == Py_None)
        return NULL;
    Py_INCREF(o);
    return o;
#endif
}

/* Close the core object now. GIL held; drops it around closes that can
 * block (a completion of INVALID_HANDLE_VALUE waits for callbacks). */
static void
object_close_now(NpObject *self, PyObject *completion)
{
    void *p = self->ptr;
    ntp_status st = 0;
    PyObject *held = NULL;
    ntp_handle *comp = NULL;
    if (p == NULL)
        return;
    if (self->kind == NTPY_REGWAIT || self->kind == NTPY_TQUEUE ||
        self->kind == NTPY_TQTIMER) {
        if (completion_arg(completion, &comp, &held) < 0) {
            PyErr_WriteUnraisable((PyObject *)self);
            comp = NULL;
        }
    }
    /* Closed for Python from now on; a callback object's context (cb)
     * stays until the core's release hook says its callbacks are over. */
    self->ptr = NULL;
    switch (self->kind) {
    case NTPY_POOL:
        ntp_pool_close(p);
        break;
    case NTPY_GROUP:
        ntp_cleanup_group_close(p);
        break;
    case NTPY_WORK:
        ntp_work_close(p);
        break;
    case NTPY_TIMER:
        ntp_timer_close(p);
        break;
    case NTPY_WAIT:
        ntp_wait_close(p);
        break;
    case NTPY_IO:
        ntp_io_close(p);
        break;
    case NTPY_HANDLE:
        st = ntp_handle_close(p);
        break;
    case NTPY_REGWAIT:
        Py_BEGIN_ALLOW_THREADS
        st = ntp_unregister_wait_ex(p, comp);
        Py_END_ALLOW_THREADS
        break;
    case NTPY_TQUEUE:
        Py_BEGIN_ALLOW_THREADS
        st = ntp_timer_queue_delete_ex(p, comp);
        Py_END_ALLOW_THREADS
        break;
    case NTPY_TQTIMER: {
        NpObject *q = (NpObject *)self->target;
        void *qp = (q != NULL) ? q->ptr : NULL;
        Py_BEGIN_ALLOW_THREADS
        st = ntp_timer_queue_timer_delete(qp, p, comp);
        Py_END_ALLOW_THREADS
        break;
    }
    default:
        break;
    }
    ntpy_leave(held);
    bool callbacks_over = st >= 0 && comp == NTP_COMPLETION_WAIT;
    if (self->kind == NTPY_TQUEUE && self->target != NULL && st >= 0) {
        /* Deleting a queue deletes its timers: close their objects. */
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(self->target); i++) {
            PyObject *t = weakref_target(PyList_GET_ITEM(self->target, i));
            if (t == NULL)
                continue;
            NpObject *tn = (NpObject *)t;
            tn->ptr = NULL;
            if (tn->cb != NULL && callbacks_over)
                pycb_discard(tn->cb);
            tn->cb = NULL;
            Py_DECREF(t);
        }
    }
    Py_CLEAR(self->target);
    if ((self->kind == NTPY_REGWAIT || self->kind == NTPY_TQTIMER) &&
        self->cb != NULL) {
        /* See py_register_wait: after a blocking completion no callback
         * can run; otherwise one may, and the context stays. */
        if (callbacks_over)
            pycb_discard(self->cb);
        self->cb = NULL;
    }
    /* The legacy objects report ERROR_IO_PENDING-like "done, callbacks
     * still outstanding" as EINPROGRESS: that is a success. */
    if (st < 0 && st != NTP_EINPROGRESS && !PyErr_Occurred())
        ntpy_raise_status(st);
    ntpy_drain_releases();
}

static PyObject *
object_close(NpObject *self, PyObject *args)
{
    PyObject *completion = NULL;
    if (!PyArg_ParseTuple(args, "|O:close", &completion))
        return NULL;
    if (self->ptr == NULL || self->borrowed || self->close_pending)
        Py_RETURN_NONE; /* idempotent, like file.close() */
    if (self->busy > 0) {
        Py_XINCREF(completion);
        self->completion = completion;
        self->close_pending = true;
        Py_RETURN_NONE;
    }
    object_close_now(self, completion);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* obj._adopt(other): take over what `other` (a fresh object of the same
 * module) stands for, so that Python subclasses can be built from the
 * objects the one-to-one functions return. */
static PyObject *
object_adopt(NpObject *self, PyObject *arg)
{
    if (!is_object(arg) || arg == (PyObject *)self) {
        PyErr_SetString(PyExc_TypeError, "_adopt takes another Object");
        return NULL;
    }
    NpObject *src = (NpObject *)arg;
    if (self->ptr != NULL || self->cb != NULL) {
        PyErr_SetString(PyExc_ValueError, "object is already open");
        return NULL;
    }
    if (src->ptr == NULL || src->busy > 0) {
        PyErr_SetString(PyExc_ValueError, "nothing to adopt");
        return NULL;
    }
    self->ptr = src->ptr;
    self->kind = src->kind;
    self->borrowed = src->borrowed;
    self->cb = src->cb;
    self->target = src->target;
    src->ptr = NULL;
    src->cb = NULL;
    src->target = NULL;
    if (self->cb != NULL && self->cb->owner == arg) {
        Py_INCREF(self);
        self->cb->owner = (PyObject *)self;
        Py_DECREF(arg); /* the reference the context held */
    }
    Py_RETURN_NONE;
}

static PyObject *
object_get_closed(NpObject *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(self->ptr == NULL || self->close_pending);
}

static PyObject *
object_get_kind(NpObject *self, void *unused)
{
    (void)unused;
    return PyUnicode_FromString(self->kind ? kind_name(self->kind) : "");
}

static PyObject *
object_repr(NpObject *self)
{
    const char *name = Py_TYPE(self)->tp_name;
    if (self->ptr == NULL)
        return PyUnicode_FromFormat("<%s (closed)>", name);
    return PyUnicode_FromFormat("<%s %p>", name, self->ptr);
}

/* An object Python no longer refers to (never one with callbacks: its
 * context holds it until released). Warn, as an unclosed file does. */
static void
object_finalize(NpObject *self)
{
    if (self->ptr == NULL || self->borrowed || self->close_pending ||
        self->busy > 0)
        return;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (PyErr_ResourceWarning((PyObject *)self, 1, "unclosed %R",
                              (PyObject *)self) < 0)
        PyErr_WriteUnraisable((PyObject *)self);
    object_close_now(self, NULL);
    if (PyErr_Occurred())
        PyErr_WriteUnraisable((PyObject *)self);
    PyErr_Restore(type, value, tb);
}

static void
object_dealloc(NpObject *self)
{
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0)
        return; /* resurrected */
    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    Py_CLEAR(self->target);
    Py_CLEAR(self->completion);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Work.submit: the hot path of the idiomatic API, without a Python
 * frame or argument tuple. Never blocks, so the GIL stays held. */
static PyObject *
object_submit_work(NpObject *self, PyObject *unused)
{
    (void)unused;
    if (self->kind != NTPY_WORK) {
        PyErr_SetString(PyExc_TypeError, "submit() needs a Work object");
        return NULL;
    }
    if (self->ptr == NULL || self->close_pending)
        return raise_closed((PyObject *)self);
    ntp_work_submit(self->ptr);
    Py_RETURN_NONE;
}

static PyMethodDef object_methods[] = {
    {"_submit_work", (PyCFunction)object_submit_work, METH_NOARGS,
     "SubmitThreadpoolWork(self)."},
    {"close", (PyCFunction)object_close, METH_VARARGS,
     "close([completion]): release the object (idempotent). Callbacks "
     "already queued still run, as on Windows."},
    {"_adopt", (PyCFunction)object_adopt, METH_O,
     "_adopt(other): take over the object `other` stands for."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef object_getset[] = {
    {"closed", (getter)object_get_closed, NULL, "True once closed.", NULL},
    {"kind", (getter)object_get_kind, NULL, "What the object is.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ------------------------------------------------------------------------ */
/* Argument converters used by the typemaps                                  */
/* ------------------------------------------------------------------------ */

/* PyArg "O&" converter for a DWORD (0 .. 2**32-1), stored as unsigned
 * long: "k" would wrap -1 and 2**40 around silently. */
static int
dword_conv(PyObject *o, void *out)
{
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "expected an int, not %.100s",
                     Py_TYPE(o)->tp_name);
        return 0;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_SetString(PyExc_OverflowError,
                        "value does not fit a DWORD (0 to 4294967295)");
        return 0;
    }
    if (v > 0xFFFFFFFFull) {
        PyErr_SetString(PyExc_OverflowError,
                        "value does not fit a DWORD (0 to 4294967295)");
        return 0;
    }
    *(unsigned long *)out = (unsigned long)v;
    return 1;
}

int
ntpy_instance_arg(PyObject *o, ntp_instance **out)
{
    if (!PyObject_TypeCheck(o, &Instance_Type)) {
        PyErr_Format(PyExc_TypeError,
                     "expected a callback instance, not %.100s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    *out = instance_check((InstanceObject *)o);
    return *out == NULL ? -1 : 0;
}

int
ntpy_env_arg(PyObject *o, const ntp_env **out)
{
    if (o == Py_None) {
        *out = NULL;
        return 0;
    }
    if (!PyObject_TypeCheck(o, &Env_Type)) {
        PyErr_Format(PyExc_TypeError,
                     "expected a callback environment, not %.100s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    *out = &((EnvObject *)o)->env;
    return 0;
}

int
ntpy_cs_arg(PyObject *o, ntp_cs **out)
{
    if (!PyObject_TypeCheck(o, &CS_Type)) {
        PyErr_Format(PyExc_TypeError,
                     "expected a critical section, not %.100s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    CSObject *cs = (CSObject *)o;
    if (!cs->alive) {
        raise_closed(o);
        return -1;
    }
    *out = &cs->cs;
    return 0;
}

/* ntp_due from Python: None (no due time), or (kind, ns) as the
 * ntp_due_* functions return it. */
int
ntpy_due_arg(PyObject *o, ntp_due *out)
{
    if (o == Py_None) {
        *out = ntp_due_none();
        return 0;
    }
    int kind;
    unsigned long long ns;
    if (!PyTuple_Check(o) || !PyArg_ParseTuple(o, "iK", &kind, &ns)) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError,
                        "a due time is None or (kind, ns), as ntp_due_in_ns "
                        "returns it");
        return -1;
    }
    if (kind < NTP_DUE_NONE || kind > NTP_DUE_ABSOLUTE) {
        PyErr_SetString(PyExc_ValueError, "unknown due-time kind");
        return -1;
    }
    out->kind = kind;
    out->ns = ns;
    return 0;
}

PyObject *
ntpy_due_value(ntp_due due)
{
    if (due.kind == NTP_DUE_NONE)
        Py_RETURN_NONE;
    return Py_BuildValue("(iK)", due.kind, (unsigned long long)due.ns);
}

/* A library: a dlopen handle as an int, or an object with one in
 * `_handle` (ctypes.CDLL). */
int
ntpy_library_arg(PyObject *o, void **out)
{
    PyObject *h = NULL;
    if (PyLong_Check(o)) {
        Py_INCREF(o);
        h = o;
    } else {
        h = PyObject_GetAttrString(o, "_handle");
        if (h == NULL || !PyLong_Check(h)) {
            Py_XDECREF(h);
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "expected a library (ctypes.CDLL or a dlopen "
                         "handle), not %.100s", Py_TYPE(o)->tp_name);
            return -1;
        }
    }
    *out = PyLong_AsVoidPtr(h);
    Py_DECREF(h);
    return PyErr_Occurred() ? -1 : 0;
}

PyObject *
ntpy_stats_value(const ntp_pool_stats *s)
{
    return Py_BuildValue(
        "{sIsIsIsIsIsIsIsIs(KKK)sKsKsKsKsK}", "threads", s->threads, "idle",
        s->idle, "running", s->running, "long_running", s->long_running,
        "min_threads", s->min_threads, "max_threads", s->max_threads,
        "persistent_thread", s->persistent_thread, "objects", s->objects,
        "queued", (unsigned long long)s->queued[0],
        (unsigned long long)s->queued[1], (unsigned long long)s->queued[2],
        "callbacks_run", (unsigned long long)s->callbacks_run,
        "threads_created", (unsigned long long)s->threads_created,
        "threads_retired", (unsigned long long)s->threads_retired,
        "starvation_adds", (unsigned long long)s->starvation_adds,
        "spawn_failures", (unsigned long long)s->spawn_failures);
}

/* ------------------------------------------------------------------------ */
/* Trampolines                                                               */
/* ------------------------------------------------------------------------ */

static OverlappedObject *overlapped_complete(pycb *c, ntp_overlapped *ov,
                                             ntp_status result,
                                             size_t nbytes);

/* Report an exception raised by a callback: to the pool's error_handler
 * when it has one, else to sys.unraisablehook. Never lets it escape. */
static void
report_error(pycb *c)
{
    /* Take the exception out first: looking the handler up runs Python. */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *handler = NULL;
    if (c->pool != NULL) {
        handler = PyObject_GetAttrString(c->pool, "error_handler");
        if (handler == NULL)
            PyErr_Clear(); /* a pool without one (a win32 pool object) */
    }
    if (handler == NULL || handler == Py_None) {
        Py_XDECREF(handler);
        PyErr_Restore(type, value, tb);
        PyErr_WriteUnraisable(c->func);
        return;
    }
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    PyObject *r = PyObject_CallFunctionObjArgs(handler,
                                               value ? value : Py_None, NULL);
    if (r == NULL)
        PyErr_WriteUnraisable(handler);
    Py_XDECREF(r);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    Py_DECREF(handler);
}

/* Call c->func(instance, [context,] args...). GIL held. */
static void
call_with_instance(pycb *c, ntp_instance *inst, PyObject *const *rest,
                   size_t nrest)
{
    PyObject *argv[8];
    size_t n = 0;
    InstanceObject *io = instance_begin(inst);
    if (io == NULL) {
        report_error(c);
        return;
    }
    argv[n++] = (PyObject *)io;
    if (c->context != NULL)
        argv[n++] = c->context;
    for (size_t i = 0; i < nrest; i++)
        argv[n++] = rest[i];
    PyObject *r = PyObject_Vectorcall(c->func, argv, n, NULL);
    if (r == NULL)
        report_error(c);
    else
        Py_DECREF(r);
    instance_end(io);
}

static void
owner_trampoline(ntp_instance *inst, void *ctx, void *object)
{
    pycb *c = ctx;
    ntpy_gil g;
    (void)object;
    if (!ntpy_gil_enter(&g))
        return;
    PyObject *owner = c->owner != NULL ? c->owner : Py_None;
    call_with_instance(c, inst, &owner, 1);
    ntpy_gil_leave(&g);
}

static void
work_trampoline(ntp_instance *inst, void *ctx, ntp_work *work)
{
    owner_trampoline(inst, ctx, work);
}

static void
timer_trampoline(ntp_instance *inst, void *ctx, ntp_timer *timer)
{
    owner_trampoline(inst, ctx, timer);
}

static void
simple_trampoline(ntp_instance *inst, void *ctx)
{
    pycb *c = ctx;
    ntpy_gil g;
    if (!ntpy_gil_enter(&g))
        return;
    call_with_instance(c, inst, NULL, 0);
    ntpy_gil_leave(&g);
}

static void
wait_trampoline(ntp_instance *inst, void *ctx, ntp_wait *wait,
                uint32_t result)
{
    pycb *c = ctx;
    ntpy_gil g;
    (void)wait;
    if (!ntpy_gil_enter(&g))
        return;
    PyObject *res = PyLong_FromUnsignedLong(result);
    if (res == NULL) {
        report_error(c);
    } else {
        PyObject *rest[2] = {c->owner != NULL ? c->owner : Py_None, res};
        call_with_instance(c, inst, rest, 2);
        Py_DECREF(res);
    }
    ntpy_gil_leave(&g);
}

/* The operation's Overlapped, out of the I/O object's in-flight set (a new
 * reference; the set's is dropped). */
static OverlappedObject *
overlapped_complete(pycb *c, ntp_overlapped *ov, ntp_status result,
                    size_t nbytes)
{
    OverlappedObject *o = ov->user;
    if (o == NULL)
        return NULL;
    Py_INCREF(o);
    if (o->in_flight) {
        o->in_flight = false;
        o->done = true;
        o->result = result;
        o->nbytes = (Py_ssize_t)nbytes;
        Py_CLEAR(o->io);
        if (c->inflight != NULL && PySet_Discard(c->inflight, (PyObject *)o) < 0)
            PyErr_Clear();
    }
    return o;
}

static void
io_trampoline(ntp_instance *inst, void *ctx, ntp_overlapped *ov,
              ntp_status result, size_t nbytes, ntp_io *io)
{
    pycb *c = ctx;
    ntpy_gil g;
    (void)io;
    if (!ntpy_gil_enter(&g))
        return;
    OverlappedObject *o = overlapped_complete(c, ov, result, nbytes);
    PyObject *owner = c->owner != NULL ? c->owner : Py_None;
    PyObject *ovobj = o != NULL ? (PyObject *)o : Py_None;
    if (c->context == NULL) {
        PyObject *rest[2] = {owner, ovobj};
        call_with_instance(c, inst, rest, 2);
    } else {
        PyObject *res = PyLong_FromLong(result);
        PyObject *nb = PyLong_FromSize_t(nbytes);
        if (res == NULL || nb == NULL) {
            report_error(c);
        } else {
            PyObject *rest[4] = {ovobj, res, nb, owner};
            call_with_instance(c, inst, rest, 4);
        }
        Py_XDECREF(res);
        Py_XDECREF(nb);
    }
    Py_XDECREF(o);
    ntpy_gil_leave(&g);
}

/* A cleanup group's cancel callback: on the thread that called
 * close_members (a Python thread, GIL dropped by the call). */
static void
cancel_trampoline(void *object_ctx, void *cleanup_ctx)
{
    pycb *c = object_ctx;
    if (c == NULL || c->cancel == NULL)
        return;
    ntpy_gil g;
    if (!ntpy_gil_enter(&g))
        return;
    PyObject *octx = c->context != NULL ? c->context
                     : c->owner != NULL ? c->owner
                                        : Py_None;
    PyObject *cctx = cleanup_ctx != NULL ? cleanup_ctx : Py_None;
    PyObject *r = PyObject_CallFunctionObjArgs(c->cancel, octx, cctx, NULL);
    if (r == NULL)
        PyErr_WriteUnraisable(c->cancel);
    Py_XDECREF(r);
    ntpy_gil_leave(&g);
}

/* APCs and the original API's one-shot items own a plain context that is
 * released right after the call (they have no release hook). */
typedef struct {
    ntpy_releasable rel;
    PyObject *func;
    PyObject *arg;
} oneshot;

static void
oneshot_finish(ntpy_releasable *r)
{
    oneshot *s = (oneshot *)r;
    Py_XDECREF(s->func);
    Py_XDECREF(s->arg);
    PyMem_RawFree(s);
}

static oneshot *
oneshot_new(PyObject *func, PyObject *arg)
{
    if (!PyCallable_Check(func)) {
        PyErr_Format(PyExc_TypeError, "callback must be callable, not %.100s",
                     Py_TYPE(func)->tp_name);
        return NULL;
    }
    oneshot *s = PyMem_RawCalloc(1, sizeof *s);
    if (s == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    s->rel.finish = oneshot_finish;
    Py_INCREF(func);
    s->func = func;
    Py_INCREF(arg);
    s->arg = arg;
    return s;
}

static void
apc_trampoline(void *arg)
{
    oneshot *s = arg;
    ntpy_gil g;
    if (!ntpy_gil_enter(&g))
        return;
    PyObject *r = PyObject_CallFunctionObjArgs(s->func, s->arg, NULL);
    if (r == NULL)
        PyErr_WriteUnraisable(s->func);
    Py_XDECREF(r);
    oneshot_finish(&s->rel);
    ntpy_gil_leave(&g);
}

static uint32_t
user_work_trampoline(void *arg)
{
    apc_trampoline(arg);
    return 0;
}

/* SetWaitableTimer's completion routine: func(arg, time_low, time_high),
 * an APC on the thread that set the timer, once per expiration. The
 * context lives until interpreter exit: the timer may fire any number of
 * times and the core has no release hook for it. */
static void
timer_apc_trampoline(void *arg, uint32_t low, uint32_t high)
{
    oneshot *s = arg;
    ntpy_gil g;
    if (!ntpy_gil_enter(&g))
        return;
    PyObject *r = PyObject_CallFunction(s->func, "OkK", s->arg,
                                        (unsigned long)low,
                                        (unsigned long long)high);
    if (r == NULL)
        PyErr_WriteUnraisable(s->func);
    Py_XDECREF(r);
    ntpy_gil_leave(&g);
}

/* BindIoCompletionCallback: func(result, nbytes, overlapped) on a pool
 * thread for every completion on the bound descriptor. */
static void
bound_io_trampoline(void *ctx, ntp_status result, size_t nbytes,
                    ntp_overlapped *ov)
{
    pycb *c = ctx;
    ntpy_gil g;
    if (!ntpy_gil_enter(&g))
        return;
    OverlappedObject *o = overlapped_complete(c, ov, result, nbytes);
    PyObject *r = PyObject_CallFunction(c->func, "lnO", (long)result,
                                        (Py_ssize_t)nbytes,
                                        o ? (PyObject *)o : Py_None);
    if (r == NULL)
        report_error(c);
    Py_XDECREF(r);
    Py_XDECREF(o);
    ntpy_gil_leave(&g);
}

/* RegisterWaitForSingleObject and timer-queue timers: callback(context,
 * timer_or_wait_fired), over a pycb whose release comes from the object
 * (unregister/delete; see legacy_release). */
static void
wait_or_timer_trampoline(void *ctx, bool fired)
{
    pycb *c = ctx;
    ntpy_gil g;
    if (!ntpy_gil_enter(&g))
        return;
    PyObject *r = PyObject_CallFunctionObjArgs(
        c->func, c->context ? c->context : Py_None,
        fired ? Py_True : Py_False, NULL);
    if (r == NULL)
        report_error(c);
    Py_XDECREF(r);
    ntpy_gil_leave(&g);
}

/* ------------------------------------------------------------------------ */
/* Hand-written functions of ntpool._raw                                     */
/* ------------------------------------------------------------------------ */

static EnvObject *
env_or_none(PyObject *o)
{
    if (o == NULL || o == Py_None)
        return NULL;
    if (!PyObject_TypeCheck(o, &Env_Type)) {
        PyErr_Format(PyExc_TypeError,
                     "expected a callback environment, not %.100s",
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    return (EnvObject *)o;
}

/* Open a callback object: the shared tail of the create functions. */
static PyObject *
open_callback_object(int kind, pycb *c, void *ptr)
{
    NpObject *o = (NpObject *)ntpy_wrap(kind, ptr);
    if (o == NULL)
        return NULL; /* cannot happen in practice; the core object leaks */
    o->cb = c;
    Py_INCREF(o);
    c->owner = (PyObject *)o; /* until the release hook */
    return (PyObject *)o;
}

#define CREATE_FN(NAME, KIND, TYPE, CREATE, SET_RELEASE, TRAMPOLINE)         \
    static PyObject *NAME(PyObject *self, PyObject *args)                     \
    {                                                                         \
        PyObject *func, *context, *envarg = Py_None;                          \
        (void)self;                                                           \
        if (!PyArg_ParseTuple(args, "OO|O", &func, &context, &envarg))        \
            return NULL;                                                      \
        EnvObject *env = env_or_none(envarg);                                 \
        if (env == NULL && PyErr_Occurred())                                  \
            return NULL;                                                      \
        pycb *c = pycb_new(KIND, func, context, env);                         \
        if (c == NULL)                                                        \
            return NULL;                                                      \
        TYPE *obj;                                                            \
        ntp_status st =                                                       \
            CREATE(&obj, TRAMPOLINE, c, env ? &env->env : NULL);              \
        if (st == 0)                                                          \
            st = SET_RELEASE(obj, ntpy_release_hook);                         \
        if (st < 0) {                                                         \
            pycb_discard(c);                                                  \
            ntpy_raise_status(st);                                            \
            return NULL;                                                      \
        }                                                                     \
        return open_callback_object(KIND, c, obj);                            \
    }

CREATE_FN(py_work_create, NTPY_WORK, ntp_work, ntp_work_create,
          ntp_work_set_release, work_trampoline)
CREATE_FN(py_timer_create, NTPY_TIMER, ntp_timer, ntp_timer_create,
          ntp_timer_set_release, timer_trampoline)
CREATE_FN(py_wait_create, NTPY_WAIT, ntp_wait, ntp_wait_create,
          ntp_wait_set_release, wait_trampoline)

static int
fd_arg(PyObject *o, int *fd)
{
    int v = PyObject_AsFileDescriptor(o); /* int, or has fileno() */
    if (v < 0)
        return -1;
    *fd = v;
    return 0;
}

static PyObject *
py_io_create(PyObject *self, PyObject *args)
{
    PyObject *file, *func, *context, *envarg = Py_None;
    int fd;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO|O", &file, &func, &context, &envarg))
        return NULL;
    if (fd_arg(file, &fd) < 0)
        return NULL;
    EnvObject *env = env_or_none(envarg);
    if (env == NULL && PyErr_Occurred())
        return NULL;
    pycb *c = pycb_new(NTPY_IO, func, context, env);
    if (c == NULL)
        return NULL;
    c->inflight = PySet_New(NULL);
    if (c->inflight == NULL) {
        pycb_discard(c);
        return NULL;
    }
    ntp_io *io;
    ntp_status st = ntp_io_create(&io, fd, io_trampoline, c,
                                  env ? &env->env : NULL);
    if (st == 0)
        st = ntp_io_set_release(io, ntpy_release_hook);
    if (st < 0) {
        pycb_discard(c);
        ntpy_raise_status(st);
        return NULL;
    }
    return open_callback_object(NTPY_IO, c, io);
}

static PyObject *
py_try_submit(PyObject *self, PyObject *args)
{
    PyObject *func, *context, *envarg = Py_None;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO|O", &func, &context, &envarg))
        return NULL;
    EnvObject *env = env_or_none(envarg);
    if (env == NULL && PyErr_Occurred())
        return NULL;
    pycb *c = pycb_new(0, func, context, env);
    if (c == NULL)
        return NULL;
    ntp_status st = ntp_try_submit_ex(simple_trampoline, c,
                                      env ? &env->env : NULL,
                                      ntpy_release_hook);
    if (st < 0) {
        pycb_discard(c);
        ntpy_raise_status(st);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ntp_wait_set(wait, handle, timeout_ms) and ntp_wait_set_ex(wait,
 * handle, due): the wait keeps the handle object alive while set. */
static PyObject *
wait_set_common(PyObject *args, bool ex)
{
    PyObject *wo, *ho, *tmo = Py_None;
    if (!PyArg_ParseTuple(args, ex ? "OO|O" : "OOO", &wo, &ho, &tmo))
        return NULL;
    PyObject *wheld, *hheld;
    ntp_wait *w = ntpy_enter(wo, NTPY_WAIT, 0, &wheld);
    if (w == NULL)
        return NULL;
    ntp_handle *h = ntpy_enter(ho, NTPY_HANDLE, 1, &hheld);
    if (h == NULL && PyErr_Occurred()) {
        ntpy_leave(wheld);
        return NULL;
    }
    ntp_due due;
    if (ex || tmo == Py_None || PyTuple_Check(tmo)) {
        if (ntpy_due_arg(tmo, &due) < 0)
            goto fail;
    } else {
        unsigned long ms = PyLong_AsUnsignedLong(tmo);
        if (ms == (unsigned long)-1 && PyErr_Occurred())
            goto fail;
        due = (ms >= NTP_INFINITE) ? ntp_due_none() : ntp_due_in_ms(ms);
    }
    NpObject *wn = (NpObject *)wo;
    PyObject *old = wn->target;
    Py_XINCREF(h ? ho : NULL);
    wn->target = h ? ho : NULL;
    bool was_set = ex ? ntp_wait_set_ex(w, h, due)
                      : (ntp_wait_set_due(w, h, due), false);
    Py_XDECREF(old);
    ntpy_leave(hheld);
    ntpy_leave(wheld);
    if (ex)
        return PyBool_FromLong(was_set);
    Py_RETURN_NONE;
fail:
    ntpy_leave(hheld);
    ntpy_leave(wheld);
    return NULL;
}

static PyObject *
py_wait_set(PyObject *self, PyObject *args)
{
    (void)self;
    return wait_set_common(args, false);
}

static PyObject *
py_wait_set_ex(PyObject *self, PyObject *args)
{
    (void)self;
    return wait_set_common(args, true);
}

static PyObject *
py_cleanup_group_close_members(PyObject *self, PyObject *args)
{
    PyObject *go, *cctx = Py_None, *held;
    int cancel = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "O|pO", &go, &cancel, &cctx))
        return NULL;
    ntp_cleanup_group *g = ntpy_enter(go, NTPY_GROUP, 0, &held);
    if (g == NULL)
        return NULL;
    ntp_status st;
    Py_BEGIN_ALLOW_THREADS
    st = ntp_cleanup_group_close_members(g, cancel != 0, cctx);
    Py_END_ALLOW_THREADS
    ntpy_leave(held);
    /* Every member was released: mark their objects closed now. */
    ntpy_drain_releases();
    if (st < 0) {
        ntpy_raise_status(st);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
py_wait_for_multiple(PyObject *self, PyObject *args)
{
    PyObject *seq, *held[NTP_MAXIMUM_WAIT_OBJECTS];
    ntp_handle *hs[NTP_MAXIMUM_WAIT_OBJECTS];
    int wait_all = 0, alertable = 0;
    unsigned long timeout = NTP_INFINITE;
    (void)self;
    if (!PyArg_ParseTuple(args, "Op|O&p", &seq, &wait_all, dword_conv,
                          &timeout, &alertable))
        return NULL;
    PyObject *fast = PySequence_Fast(seq, "handles must be a sequence");
    if (fast == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n < 1 || n > NTP_MAXIMUM_WAIT_OBJECTS) {
        Py_DECREF(fast);
        PyErr_Format(PyExc_ValueError,
                     "between 1 and %d handles can be waited for",
                     NTP_MAXIMUM_WAIT_OBJECTS);
        return NULL;
    }
    Py_ssize_t got = 0;
    for (; got < n; got++) {
        hs[got] = ntpy_enter(PySequence_Fast_GET_ITEM(fast, got), NTPY_HANDLE,
                             0, &held[got]);
        if (hs[got] == NULL)
            break;
    }
    int r = 0;
    if (got == n) {
        Py_BEGIN_ALLOW_THREADS
        r = ntp_wait_for_multiple((uint32_t)n, hs, wait_all != 0,
                                  (uint32_t)timeout, alertable != 0);
        Py_END_ALLOW_THREADS
    }
    for (Py_ssize_t i = 0; i < got; i++)
        ntpy_leave(held[i]);
    Py_DECREF(fast);
    if (got < n)
        return NULL;
    if (r < 0) {
        ntpy_raise_status(r);
        return NULL;
    }
    ntpy_drain_releases();
    return PyLong_FromLong(r);
}

static PyObject *
py_queue_apc(PyObject *self, PyObject *args)
{
    PyObject *func, *to, *data = Py_None, *held = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO|O", &func, &to, &data))
        return NULL;
    ntp_handle *t = ntpy_enter(to, NTPY_HANDLE, 0, &held);
    if (t == NULL)
        return NULL;
    oneshot *s = oneshot_new(func, data);
    if (s == NULL) {
        ntpy_leave(held);
        return NULL;
    }
    ntp_status st = ntp_queue_apc(t, apc_trampoline, s);
    ntpy_leave(held);
    if (st < 0) {
        oneshot_finish(&s->rel);
        ntpy_raise_status(st);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
py_queue_user_work_item(PyObject *self, PyObject *args)
{
    PyObject *func, *context = Py_None;
    unsigned long flags = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "O|OO&", &func, &context, dword_conv,
                          &flags))
        return NULL;
    oneshot *s = oneshot_new(func, context);
    if (s == NULL)
        return NULL;
    ntp_status st =
        ntp_queue_user_work_item(user_work_trampoline, s, (uint32_t)flags);
    if (st < 0) {
        oneshot_finish(&s->rel);
        ntpy_raise_status(st);
        return NULL;
    }
    Py_RETURN_NONE;
}

/*
 * The original API's registered waits and timer-queue timers have no
 * release hook in the core. Their context (the Object's `cb`, with no
 * owner) is released when the object is unregistered or deleted with the
 * blocking completion (INVALID_HANDLE_VALUE): then no callback can run any
 * more. After a non-blocking unregister or delete a callback may still be
 * running, and the context is kept until the process ends.
 */
static PyObject *
py_register_wait(PyObject *self, PyObject *args)
{
    PyObject *ho, *func, *context = Py_None, *held;
    unsigned long timeout = NTP_INFINITE, flags = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO|OO&O&", &ho, &func, &context,
                          dword_conv, &timeout, dword_conv, &flags))
        return NULL;
    ntp_handle *h = ntpy_enter(ho, NTPY_HANDLE, 0, &held);
    if (h == NULL)
        return NULL;
    pycb *c = pycb_new(NTPY_REGWAIT, func, context, NULL);
    if (c == NULL) {
        ntpy_leave(held);
        return NULL;
    }
    ntp_registered_wait *w;
    ntp_status st = ntp_register_wait(&w, h, wait_or_timer_trampoline, c,
                                      (uint32_t)timeout, (uint32_t)flags);
    ntpy_leave(held);
    if (st < 0) {
        pycb_discard(c);
        ntpy_raise_status(st);
        return NULL;
    }
    PyObject *o = ntpy_wrap(NTPY_REGWAIT, w);
    if (o != NULL) {
        Py_INCREF(ho);
        ((NpObject *)o)->target = ho;
        ((NpObject *)o)->cb = c;
    }
    return o;
}

static PyObject *
py_waitable_timer_set_apc(PyObject *self, PyObject *args)
{
    PyObject *to, *dueo, *func, *arg = Py_None, *held;
    long period = 0;
    ntp_due due;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOlO|O", &to, &dueo, &period, &func, &arg))
        return NULL;
    if (ntpy_due_arg(dueo, &due) < 0)
        return NULL;
    ntp_handle *t = ntpy_enter(to, NTPY_HANDLE, 0, &held);
    if (t == NULL)
        return NULL;
    oneshot *s = oneshot_new(func, arg);
    if (s == NULL) {
        ntpy_leave(held);
        return NULL;
    }
    ntp_status st = ntp_waitable_timer_set_apc(t, due, (int32_t)period,
                                               timer_apc_trampoline, s);
    ntpy_leave(held);
    if (st < 0) {
        oneshot_finish(&s->rel);
        ntpy_raise_status(st);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
py_bind_io_completion_callback(PyObject *self, PyObject *args)
{
    PyObject *file, *func;
    unsigned long flags = 0;
    int fd;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO|O&", &file, &func, dword_conv, &flags))
        return NULL;
    if (fd_arg(file, &fd) < 0)
        return NULL;
    pycb *c = pycb_new(NTPY_IO, func, Py_None, NULL);
    if (c == NULL)
        return NULL;
    c->inflight = PySet_New(NULL);
    if (c->inflight == NULL) {
        pycb_discard(c);
        return NULL;
    }
    /* The core keeps its own release hook on a binding's I/O object, and
     * Windows has no unbind: the context lives as long as the process
     * (closing the returned object ends the binding; its Python values
     * are then kept until exit). */
    ntp_io *io;
    ntp_status st = ntp_bind_io_completion_callback(
        &io, fd, bound_io_trampoline, c, (uint32_t)flags);
    if (st < 0) {
        pycb_discard(c);
        ntpy_raise_status(st);
        return NULL;
    }
    return open_callback_object(NTPY_IO, c, io);
}

static PyObject *
py_timer_queue_timer_create(PyObject *self, PyObject *args)
{
    PyObject *qo, *func, *context = Py_None, *held = NULL;
    unsigned long due = 0, period = 0, flags = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO|OO&O&O&", &qo, &func, &context,
                          dword_conv, &due, dword_conv, &period,
                          dword_conv, &flags))
        return NULL;
    ntp_timer_queue *q = ntpy_enter(qo, NTPY_TQUEUE, 1, &held);
    if (q == NULL && PyErr_Occurred())
        return NULL;
    pycb *c = pycb_new(NTPY_TQTIMER, func, context, NULL);
    if (c == NULL) {
        ntpy_leave(held);
        return NULL;
    }
    ntp_timer_queue_timer *t;
    ntp_status st = ntp_timer_queue_timer_create(
        &t, q, wait_or_timer_trampoline, c, (uint32_t)due, (uint32_t)period,
        (uint32_t)flags);
    ntpy_leave(held);
    if (st < 0) {
        pycb_discard(c);
        ntpy_raise_status(st);
        return NULL;
    }
    PyObject *o = ntpy_wrap(NTPY_TQTIMER, t);
    if (o == NULL)
        return NULL; /* the timer runs on, its context kept */
    ((NpObject *)o)->cb = c;
    if (qo != Py_None) {
        NpObject *q = (NpObject *)qo;
        PyObject *ref = PyWeakref_NewRef(o, NULL);
        if (q->target == NULL)
            q->target = PyList_New(0);
        if (ref == NULL || q->target == NULL ||
            PyList_Append(q->target, ref) < 0) {
            Py_XDECREF(ref);
            Py_DECREF(o);
            return NULL;
        }
        Py_DECREF(ref);
        Py_INCREF(qo);
        ((NpObject *)o)->target = qo;
    }
    return o;
}

static PyObject *
py_close_with(PyObject *args, int kind)
{
    PyObject *o, *completion = NULL;
    if (!PyArg_ParseTuple(args, "O|O", &o, &completion))
        return NULL;
    if (!is_object(o) || ((NpObject *)o)->kind != kind) {
        PyErr_Format(PyExc_TypeError, "expected an ntpool %s, not %.100s",
                     kind_name(kind), Py_TYPE(o)->tp_name);
        return NULL;
    }
    PyObject *a = completion ? PyTuple_Pack(1, completion) : PyTuple_New(0);
    if (a == NULL)
        return NULL;
    PyObject *r = object_close((NpObject *)o, a);
    Py_DECREF(a);
    return r;
}

#define CLOSE_FN(NAME, KIND)                                                  \
    static PyObject *NAME(PyObject *self, PyObject *args)                     \
    {                                                                         \
        (void)self;                                                           \
        return py_close_with(args, KIND);                              \
    }

CLOSE_FN(py_pool_close, NTPY_POOL)
CLOSE_FN(py_cleanup_group_close, NTPY_GROUP)
CLOSE_FN(py_work_close, NTPY_WORK)
CLOSE_FN(py_timer_close, NTPY_TIMER)
CLOSE_FN(py_wait_close, NTPY_WAIT)
CLOSE_FN(py_io_close, NTPY_IO)
CLOSE_FN(py_handle_close, NTPY_HANDLE)
CLOSE_FN(py_unregister_wait_ex, NTPY_REGWAIT)
CLOSE_FN(py_timer_queue_delete_ex, NTPY_TQUEUE)

static PyObject *
py_timer_queue_timer_delete(PyObject *self, PyObject *args)
{
    PyObject *q, *t, *completion = Py_None;
    (void)self;
    (void)q;
    if (!PyArg_ParseTuple(args, "OO|O", &q, &t, &completion))
        return NULL;
    PyObject *a = Py_BuildValue("(OO)", t, completion);
    if (a == NULL)
        return NULL;
    PyObject *r = py_close_with(a, NTPY_TQTIMER);
    Py_DECREF(a);
    return r;
}

static PyObject *
py_pool_default(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    ntp_pool *p = ntp_pool_default();
    if (p == NULL)
        return PyErr_NoMemory();
    return wrap_borrowed(NTPY_POOL, p);
}

static PyObject *
py_pool_dump(PyObject *self, PyObject *args)
{
    PyObject *po, *held;
    unsigned int flags = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "O|I", &po, &flags))
        return NULL;
    ntp_pool *p = ntpy_enter(po, NTPY_POOL, 1, &held);
    if (p == NULL && PyErr_Occurred())
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        ntpy_leave(held);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    ntp_status st = ntp_pool_dump(p ? p : ntp_pool_default(), flags, f);
    fclose(f);
    ntpy_leave(held);
    if (st < 0) {
        free(buf);
        ntpy_raise_status(st);
        return NULL;
    }
    PyObject *s = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)len, "replace");
    free(buf);
    return s;
}

/* ---- I/O operations ------------------------------------------------------- */

static OverlappedObject *
overlapped_arg(PyObject *o)
{
    if (!PyObject_TypeCheck(o, &Overlapped_Type)) {
        PyErr_Format(PyExc_TypeError, "expected an Overlapped, not %.100s",
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    return (OverlappedObject *)o;
}

/* ntp_io_read(io, ov, size) / ntp_io_write(io, ov, data): start one
 * operation. The Overlapped (and its buffer) stays in the I/O object's
 * in-flight set until the operation completes. */
static PyObject *
io_op(PyObject *args, bool is_read)
{
    PyObject *io_o, *ov_o, *what, *held;
    if (!PyArg_ParseTuple(args, "OOO", &io_o, &ov_o, &what))
        return NULL;
    OverlappedObject *ov = overlapped_arg(ov_o);
    if (ov == NULL)
        return NULL;
    if (ov->in_flight) {
        PyErr_SetString(PyExc_ValueError,
                        "this Overlapped has an operation in flight");
        return NULL;
    }
    PyObject *buffer;
    if (is_read) {
        Py_ssize_t size = PyLong_AsSsize_t(what);
        if (size < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "negative read size");
            return NULL;
        }
        buffer = PyByteArray_FromStringAndSize(NULL, size);
    } else {
        buffer = PyBytes_FromObject(what);
    }
    if (buffer == NULL)
        return NULL;
    ntp_io *io = ntpy_enter(io_o, NTPY_IO, 0, &held);
    if (io == NULL) {
        Py_DECREF(buffer);
        return NULL;
    }
    NpObject *ion = (NpObject *)io_o;
    if (PySet_Add(ion->cb->inflight, ov_o) < 0) {
        ntpy_leave(held);
        Py_DECREF(buffer);
        return NULL;
    }
    Py_XSETREF(ov->buffer, buffer);
    Py_INCREF(io_o);
    Py_XSETREF(ov->io, io_o);
    ov->in_flight = true;
    ov->done = false;
    ov->is_read = is_read;
    ov->result = 0;
    ov->nbytes = 0;
    ov->ov.user = ov;
    ntp_handle *ev = NULL;
    if (ov->event != NULL)
        ev = ((NpObject *)ov->event)->ptr;
    ov->ov.event = ev;
    ntp_status st =
        is_read ? ntp_io_read(io, &ov->ov, PyByteArray_AS_STRING(buffer),
                              (size_t)PyByteArray_GET_SIZE(buffer))
                : ntp_io_write(io, &ov->ov, PyBytes_AS_STRING(buffer),
                               (size_t)PyBytes_GET_SIZE(buffer));
    ntpy_leave(held);
    if (st < 0) {
        /* Refused at once: no completion will come. */
        ov->in_flight = false;
        Py_CLEAR(ov->io);
        if (PySet_Discard(ion->cb->inflight, ov_o) < 0)
            PyErr_Clear();
        ntpy_raise_status(st);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
py_io_read(PyObject *self, PyObject *args)
{
    (void)self;
    return io_op(args, true);
}

static PyObject *
py_io_write(PyObject *self, PyObject *args)
{
    (void)self;
    return io_op(args, false);
}

static PyObject *
py_io_cancel_ops(PyObject *self, PyObject *args)
{
    PyObject *io_o, *ov_o = Py_None, *held;
    (void)self;
    if (!PyArg_ParseTuple(args, "O|O", &io_o, &ov_o))
        return NULL;
    ntp_overlapped *ovp = NULL;
    if (ov_o != Py_None) {
        OverlappedObject *ov = overlapped_arg(ov_o);
        if (ov == NULL)
            return NULL;
        ovp = &ov->ov;
    }
    ntp_io *io = ntpy_enter(io_o, NTPY_IO, 0, &held);
    if (io == NULL)
        return NULL;
    ntp_status st = ntp_io_cancel_ops(io, ovp);
    ntpy_leave(held);
    if (st < 0) {
        ntpy_raise_status(st);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
py_overlapped_result(PyObject *self, PyObject *args)
{
    PyObject *ov_o;
    int wait = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "O|p", &ov_o, &wait))
        return NULL;
    OverlappedObject *ov = overlapped_arg(ov_o);
    if (ov == NULL)
        return NULL;
    if (!ov->in_flight && !ov->done) {
        PyErr_SetString(PyExc_ValueError, "no operation was started");
        return NULL;
    }
    size_t nbytes = 0;
    ntp_status st;
    Py_INCREF(ov_o);
    Py_BEGIN_ALLOW_THREADS
    st = ntp_overlapped_result(&ov->ov, &nbytes, wait != 0);
    Py_END_ALLOW_THREADS
    Py_DECREF(ov_o);
    if (st < 0) {
        ntpy_raise_status(st);
        return NULL;
    }
    return PyLong_FromSize_t(nbytes);
}

/* ---- environments ---------------------------------------------------------- */

static EnvObject *
env_arg(PyObject *o)
{
    EnvObject *e = env_or_none(o);
    if (e == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "expected a callback environment");
    return e;
}

static PyObject *
py_env_init(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    EnvObject *e = PyObject_GC_New(EnvObject, &Env_Type);
    if (e == NULL)
        return NULL;
    ntp_env_init(&e->env);
    e->pool = e->group = e->cancel = e->library = NULL;
    PyObject_GC_Track(e);
    return (PyObject *)e;
}

static PyObject *
py_env_destroy(PyObject *self, PyObject *arg)
{
    (void)self;
    EnvObject *e = env_arg(arg);
    if (e == NULL)
        return NULL;
    ntp_env_destroy(&e->env);
    Py_RETURN_NONE;
}

static PyObject *
py_env_set_pool(PyObject *self, PyObject *args)
{
    PyObject *eo, *po, *held;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO", &eo, &po))
        return NULL;
    EnvObject *e = env_arg(eo);
    if (e == NULL)
        return NULL;
    ntp_pool *p = ntpy_enter(po, NTPY_POOL, 1, &held);
    if (p == NULL && PyErr_Occurred())
        return NULL;
    ntp_env_set_pool(&e->env, p);
    ntpy_leave(held);
    Py_XINCREF(p ? po : NULL);
    Py_XSETREF(e->pool, p ? po : NULL);
    Py_RETURN_NONE;
}

static PyObject *
py_env_set_cleanup_group(PyObject *self, PyObject *args)
{
    PyObject *eo, *go, *cancel = Py_None, *held;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO|O", &eo, &go, &cancel))
        return NULL;
    EnvObject *e = env_arg(eo);
    if (e == NULL)
        return NULL;
    if (cancel != Py_None && !PyCallable_Check(cancel)) {
        PyErr_SetString(PyExc_TypeError, "cancel_callback must be callable");
        return NULL;
    }
    ntp_cleanup_group *g = ntpy_enter(go, NTPY_GROUP, 1, &held);
    if (g == NULL && PyErr_Occurred())
        return NULL;
    ntp_env_set_cleanup_group(&e->env, g,
                              cancel != Py_None ? cancel_trampoline : NULL);
    ntpy_leave(held);
    Py_XINCREF(g ? go : NULL);
    Py_XSETREF(e->group, g ? go : NULL);
    Py_XINCREF(cancel != Py_None ? cancel : NULL);
    Py_XSETREF(e->cancel, cancel != Py_None ? cancel : NULL);
    Py_RETURN_NONE;
}

static PyObject *
py_env_set_priority(PyObject *self, PyObject *args)
{
    PyObject *eo;
    int prio;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oi", &eo, &prio))
        return NULL;
    EnvObject *e = env_arg(eo);
    if (e == NULL)
        return NULL;
    ntp_env_set_priority(&e->env, prio);
    Py_RETURN_NONE;
}

static PyObject *
py_env_set_runs_long(PyObject *self, PyObject *arg)
{
    (void)self;
    EnvObject *e = env_arg(arg);
    if (e == NULL)
        return NULL;
    ntp_env_set_runs_long(&e->env);
    Py_RETURN_NONE;
}

static PyObject *
py_env_set_persistent(PyObject *self, PyObject *arg)
{
    (void)self;
    EnvObject *e = env_arg(arg);
    if (e == NULL)
        return NULL;
    ntp_env_set_persistent(&e->env);
    Py_RETURN_NONE;
}

static PyObject *
py_env_set_library(PyObject *self, PyObject *args)
{
    PyObject *eo, *lib;
    void *handle;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO", &eo, &lib))
        return NULL;
    EnvObject *e = env_arg(eo);
    if (e == NULL || ntpy_library_arg(lib, &handle) < 0)
        return NULL;
    ntp_env_set_library(&e->env, handle);
    Py_INCREF(lib);
    Py_XSETREF(e->library, lib);
    Py_RETURN_NONE;
}

static int
env_traverse(EnvObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->pool);
    Py_VISIT(self->group);
    Py_VISIT(self->cancel);
    Py_VISIT(self->library);
    return 0;
}

static int
env_clear(EnvObject *self)
{
    Py_CLEAR(self->pool);
    Py_CLEAR(self->group);
    Py_CLEAR(self->cancel);
    Py_CLEAR(self->library);
    return 0;
}

static void
env_dealloc(EnvObject *self)
{
    PyObject_GC_UnTrack(self);
    env_clear(self);
    PyObject_GC_Del(self);
}

static PyObject *
env_get(EnvObject *self, void *which)
{
    PyObject *v = NULL;
    switch ((int)(intptr_t)which) {
    case 0:
        v = self->pool;
        break;
    case 1:
        v = self->group;
        break;
    case 2:
        v = self->cancel;
        break;
    case 3:
        return PyLong_FromLong(self->env.priority);
    case 4:
        return PyBool_FromLong((self->env.flags & NTP_ENV_RUNS_LONG) != 0);
    case 5:
        return PyBool_FromLong((self->env.flags & NTP_ENV_PERSISTENT) != 0);
    default:
        v = self->library;
        break;
    }
    if (v == NULL)
        Py_RETURN_NONE;
    Py_INCREF(v);
    return v;
}

static PyGetSetDef env_getset[] = {
    {"pool", (getter)env_get, NULL, "The pool (None: default).", (void *)0},
    {"cleanup_group", (getter)env_get, NULL, "The cleanup group.", (void *)1},
    {"cancel_callback", (getter)env_get, NULL, "The cancel callback.",
     (void *)2},
    {"priority", (getter)env_get, NULL, "The callback priority.", (void *)3},
    {"runs_long", (getter)env_get, NULL, "Callbacks may run long.",
     (void *)4},
    {"persistent", (getter)env_get, NULL, "Run on the persistent thread.",
     (void *)5},
    {"library", (getter)env_get, NULL, "The library kept loaded.",
     (void *)6},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ---- critical sections ----------------------------------------------------- */

static PyObject *
cs_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    CSObject *self = (CSObject *)type->tp_alloc(type, 0);
    if (self != NULL) {
        ntp_cs_init(&self->cs);
        self->alive = true;
    }
    return (PyObject *)self;
}

static PyObject *
cs_delete(CSObject *self, PyObject *unused)
{
    (void)unused;
    if (self->alive && self->busy == 0) {
        self->alive = false;
        ntp_cs_destroy(&self->cs);
    }
    Py_RETURN_NONE;
}

static void
cs_dealloc(CSObject *self)
{
    if (self->alive)
        ntp_cs_destroy(&self->cs);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef cs_methods[] = {
    {"delete", (PyCFunction)cs_delete, METH_NOARGS,
     "DeleteCriticalSection (idempotent)."},
    {NULL, NULL, 0, NULL},
};

/* ---- instance methods ------------------------------------------------------ */

/* Record an action on `target`, keeping it alive and busy until the core
 * has run the action. */
static PyObject *
instance_action(InstanceObject *self, PyObject *target,
                ntp_status (*record)(ntp_instance *, void *, uint32_t),
                uint32_t count, int kind)
{
    ntp_instance *inst = instance_check(self);
    if (inst == NULL)
        return NULL;
    void *ptr;
    PyObject *held = NULL;
    if (kind == -1) { /* a critical section */
        ntp_cs *cs;
        if (ntpy_cs_arg(target, &cs) < 0)
            return NULL;
        ptr = cs;
    } else if (kind == -2) { /* a library */
        if (ntpy_library_arg(target, &ptr) < 0)
            return NULL;
    } else {
        ptr = ntpy_enter(target, kind, 0, &held);
        if (ptr == NULL)
            return NULL;
    }
    ntp_status st = record(inst, ptr, count);
    if (st < 0) {
        ntpy_leave(held);
        ntpy_raise_status(st);
        return NULL;
    }
    /* The use ntpy_enter counted (or the critical section's busy count)
     * lasts until the core ran the action: ntpy_unkeep ends it. */
    if (held != NULL) {
        ntpy_keep_until_return(held, NTPY_KEEP_LEAVE);
    } else if (kind == -1) {
        ((CSObject *)target)->busy++;
        Py_INCREF(target);
        ntpy_keep_until_return(target, NTPY_KEEP_CS);
    } else {
        Py_INCREF(target);
        ntpy_keep_until_return(target, NTPY_KEEP_REF);
    }
    Py_RETURN_NONE;
}

static ntp_status
rec_event(ntp_instance *i, void *p, uint32_t n)
{
    (void)n;
    return ntp_instance_set_event_on_return(i, p);
}

static ntp_status
rec_semaphore(ntp_instance *i, void *p, uint32_t n)
{
    return ntp_instance_release_semaphore_on_return(i, p, n);
}

static ntp_status
rec_mutex(ntp_instance *i, void *p, uint32_t n)
{
    (void)n;
    return ntp_instance_release_mutex_on_return(i, p);
}

static ntp_status
rec_cs(ntp_instance *i, void *p, uint32_t n)
{
    (void)n;
    return ntp_instance_leave_cs_on_return(i, p);
}

static ntp_status
rec_library(ntp_instance *i, void *p, uint32_t n)
{
    (void)n;
    return ntp_instance_free_library_on_return(i, p);
}

static PyObject *
inst_set_event(InstanceObject *self, PyObject *event)
{
    return instance_action(self, event, rec_event, 0, NTPY_HANDLE);
}

static PyObject *
inst_release_semaphore(InstanceObject *self, PyObject *args)
{
    PyObject *sem;
    unsigned long count = 1;
    if (!PyArg_ParseTuple(args, "O|O&", &sem, dword_conv, &count))
        return NULL;
    return instance_action(self, sem, rec_semaphore, (uint32_t)count,
                           NTPY_HANDLE);
}

static PyObject *
inst_release_mutex(InstanceObject *self, PyObject *mutex)
{
    return instance_action(self, mutex, rec_mutex, 0, NTPY_HANDLE);
}

static PyObject *
inst_leave_cs(InstanceObject *self, PyObject *cs)
{
    return instance_action(self, cs, rec_cs, 0, -1);
}

static PyObject *
inst_free_library(InstanceObject *self, PyObject *lib)
{
    return instance_action(self, lib, rec_library, 0, -2);
}

static PyObject *
inst_may_run_long(InstanceObject *self, PyObject *unused)
{
    (void)unused;
    ntp_instance *inst = instance_check(self);
    if (inst == NULL)
        return NULL;
    return PyBool_FromLong(ntp_instance_may_run_long(inst));
}

static PyObject *
inst_disassociate(InstanceObject *self, PyObject *unused)
{
    (void)unused;
    ntp_instance *inst = instance_check(self);
    if (inst == NULL)
        return NULL;
    ntp_instance_disassociate(inst);
    Py_RETURN_NONE;
}

static PyObject *
inst_get_valid(InstanceObject *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(self->inst != NULL);
}

static PyMethodDef instance_methods[] = {
    {"may_run_long", (PyCFunction)inst_may_run_long, METH_NOARGS,
     "CallbackMayRunLong: True if another thread can take the pool's next "
     "callback."},
    {"disassociate", (PyCFunction)inst_disassociate, METH_NOARGS,
     "DisassociateCurrentThreadFromCallback."},
    {"set_event_on_return", (PyCFunction)inst_set_event, METH_O,
     "SetEventWhenCallbackReturns."},
    {"release_semaphore_on_return", (PyCFunction)inst_release_semaphore,
     METH_VARARGS, "ReleaseSemaphoreWhenCallbackReturns(sem, count=1)."},
    {"release_mutex_on_return", (PyCFunction)inst_release_mutex, METH_O,
     "ReleaseMutexWhenCallbackReturns."},
    {"leave_critical_section_on_return", (PyCFunction)inst_leave_cs, METH_O,
     "LeaveCriticalSectionWhenCallbackReturns."},
    {"free_library_on_return", (PyCFunction)inst_free_library, METH_O,
     "FreeLibraryWhenCallbackReturns."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef instance_getset[] = {
    {"valid", (getter)inst_get_valid, NULL,
     "True while the callback runs.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

/* The win32 spellings, as module functions: f(instance, ...). */
#define INST_FN(NAME, METHOD, FLAGS)                                          \
    static PyObject *NAME(PyObject *self, PyObject *args)                     \
    {                                                                         \
        PyObject *inst, *rest;                                                \
        (void)self;                                                           \
        if (PyTuple_GET_SIZE(args) < 1 ||                                     \
            !PyObject_TypeCheck(PyTuple_GET_ITEM(args, 0), &Instance_Type)) { \
            PyErr_SetString(PyExc_TypeError,                                  \
                            "the first argument must be a callback "          \
                            "instance");                                      \
            return NULL;                                                      \
        }                                                                     \
        inst = PyTuple_GET_ITEM(args, 0);                                     \
        rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));             \
        if (rest == NULL)                                                     \
            return NULL;                                                      \
        PyObject *r;                                                          \
        if ((FLAGS) == METH_O) {                                              \
            if (PyTuple_GET_SIZE(rest) != 1) {                                \
                Py_DECREF(rest);                                              \
                PyErr_SetString(PyExc_TypeError, "expected 2 arguments");     \
                return NULL;                                                  \
            }                                                                 \
            r = METHOD((InstanceObject *)inst, PyTuple_GET_ITEM(rest, 0));    \
        } else if ((FLAGS) == METH_NOARGS) {                                  \
            r = ((PyObject * (*)(InstanceObject *, PyObject *)) METHOD)(      \
                (InstanceObject *)inst, NULL);                                \
        } else {                                                              \
            r = ((PyObject * (*)(InstanceObject *, PyObject *)) METHOD)(      \
                (InstanceObject *)inst, rest);                                \
        }                                                                     \
        Py_DECREF(rest);                                                      \
        return r;                                                             \
    }

INST_FN(py_inst_set_event, inst_set_event, METH_O)
INST_FN(py_inst_release_mutex, inst_release_mutex, METH_O)
INST_FN(py_inst_leave_cs, inst_leave_cs, METH_O)
INST_FN(py_inst_free_library, inst_free_library, METH_O)
INST_FN(py_inst_release_semaphore, inst_release_semaphore, METH_VARARGS)
INST_FN(py_inst_may_run_long, inst_may_run_long, METH_NOARGS)
INST_FN(py_inst_disassociate, inst_disassociate, METH_NOARGS)

/* ---- Overlapped ------------------------------------------------------------ */

static PyObject *
overlapped_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"offset", "event", NULL};
    PyObject *offset = Py_None, *event = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO:Overlapped", kwlist,
                                     &offset, &event))
        return NULL;
    OverlappedObject *self = (OverlappedObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->ov.offset = NTP_IO_STREAM;
    if (offset != Py_None) {
        unsigned long long off = PyLong_AsUnsignedLongLong(offset);
        if (PyErr_Occurred()) {
            Py_DECREF(self);
            return NULL;
        }
        self->ov.offset = off;
    }
    if (event != Py_None) {
        if (!is_object(event) || ((NpObject *)event)->kind != NTPY_HANDLE) {
            Py_DECREF(self);
            PyErr_SetString(PyExc_TypeError, "event must be an ntpool handle");
            return NULL;
        }
        Py_INCREF(event);
        self->event = event;
    }
    return (PyObject *)self;
}

static int
overlapped_traverse(OverlappedObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->buffer);
    Py_VISIT(self->event);
    Py_VISIT(self->io);
    return 0;
}

static int
overlapped_clear(OverlappedObject *self)
{
    if (self->in_flight)
        return 0; /* the core still writes into the buffer */
    Py_CLEAR(self->buffer);
    Py_CLEAR(self->event);
    Py_CLEAR(self->io);
    return 0;
}

static void
overlapped_dealloc(OverlappedObject *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->buffer);
    Py_CLEAR(self->event);
    Py_CLEAR(self->io);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
overlapped_get(OverlappedObject *self, void *which)
{
    switch ((int)(intptr_t)which) {
    case 0: /* offset */
        if (self->ov.offset == NTP_IO_STREAM)
            Py_RETURN_NONE;
        return PyLong_FromUnsignedLongLong(self->ov.offset);
    case 1: /* result */
        if (!self->done)
            Py_RETURN_NONE;
        return PyLong_FromLong(self->result);
    case 2: /* nbytes */
        return PyLong_FromSsize_t(self->nbytes);
    case 3: /* data */
        if (self->buffer == NULL)
            Py_RETURN_NONE;
        if (self->is_read) {
            if (!self->done)
                Py_RETURN_NONE;
            return PyBytes_FromStringAndSize(
                PyByteArray_AS_STRING(self->buffer), self->nbytes);
        }
        Py_INCREF(self->buffer);
        return self->buffer;
    case 4: /* done */
        return PyBool_FromLong(self->done);
    default: /* event */
        if (self->event == NULL)
            Py_RETURN_NONE;
        Py_INCREF(self->event);
        return self->event;
    }
}

static int
overlapped_set_offset(OverlappedObject *self, PyObject *v, void *unused)
{
    (void)unused;
    if (self->in_flight) {
        PyErr_SetString(PyExc_ValueError, "operation in flight");
        return -1;
    }
    if (v == NULL || v == Py_None) {
        self->ov.offset = NTP_IO_STREAM;
        return 0;
    }
    unsigned long long off = PyLong_AsUnsignedLongLong(v);
    if (PyErr_Occurred())
        return -1;
    self->ov.offset = off;
    return 0;
}

static PyGetSetDef overlapped_getset[] = {
    {"offset", (getter)overlapped_get, (setter)overlapped_set_offset,
     "File offset (None: the stream position).", (void *)0},
    {"result", (getter)overlapped_get, NULL,
     "0 or a negative errno once done; None before.", (void *)1},
    {"nbytes", (getter)overlapped_get, NULL, "Bytes transferred.", (void *)2},
    {"data", (getter)overlapped_get, NULL,
     "The bytes read (once done), or the bytes written.", (void *)3},
    {"done", (getter)overlapped_get, NULL, "True once completed.", (void *)4},
    {"event", (getter)overlapped_get, NULL,
     "The event set on completion (hEvent).", (void *)5},
    {NULL, NULL, NULL, NULL, NULL},
};

/* ------------------------------------------------------------------------ */
/* Type objects and module set-up                                            */
/* ------------------------------------------------------------------------ */

static PyTypeObject Object_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ntpool._ntpool.Object",
    .tp_basicsize = sizeof(NpObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "An ntpool object (pool, work, timer, wait, I/O, handle...).",
    .tp_new = object_new,
    .tp_dealloc = (destructor)object_dealloc,
    .tp_finalize = (destructor)object_finalize,
    .tp_repr = (reprfunc)object_repr,
    .tp_methods = object_methods,
    .tp_getset = object_getset,
    .tp_weaklistoffset = offsetof(NpObject, weakrefs),
};

static PyTypeObject Instance_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ntpool._ntpool.Instance",
    .tp_basicsize = sizeof(InstanceObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A callback instance, valid only while its callback runs.",
    .tp_dealloc = (destructor)instance_dealloc,
    .tp_repr = (reprfunc)instance_repr,
    .tp_methods = instance_methods,
    .tp_getset = instance_getset,
};

static PyTypeObject Env_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ntpool._ntpool.Env",
    .tp_basicsize = sizeof(EnvObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A callback environment (TP_CALLBACK_ENVIRON).",
    .tp_dealloc = (destructor)env_dealloc,
    .tp_traverse = (traverseproc)env_traverse,
    .tp_clear = (inquiry)env_clear,
    .tp_getset = env_getset,
};

static PyTypeObject CS_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ntpool._ntpool.CriticalSection",
    .tp_basicsize = sizeof(CSObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A critical section (CRITICAL_SECTION).",
    .tp_new = cs_new,
    .tp_dealloc = (destructor)cs_dealloc,
    .tp_methods = cs_methods,
};

static PyTypeObject Overlapped_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ntpool._ntpool.Overlapped",
    .tp_basicsize = sizeof(OverlappedObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Overlapped(offset=None, event=None): one I/O operation.",
    .tp_new = overlapped_new,
    .tp_dealloc = (destructor)overlapped_dealloc,
    .tp_traverse = (traverseproc)overlapped_traverse,
    .tp_clear = (inquiry)overlapped_clear,
    .tp_getset = overlapped_getset,
};

static PyMethodDef glue_functions[] = {
    {"ntp_work_create", py_work_create, METH_VARARGS,
     "ntp_work_create(callback, context, env=None) -> Work"},
    {"ntp_timer_create", py_timer_create, METH_VARARGS,
     "ntp_timer_create(callback, context, env=None) -> Timer"},
    {"ntp_wait_create", py_wait_create, METH_VARARGS,
     "ntp_wait_create(callback, context, env=None) -> Wait"},
    {"ntp_io_create", py_io_create, METH_VARARGS,
     "ntp_io_create(fd, callback, context, env=None) -> IO"},
    {"ntp_try_submit", py_try_submit, METH_VARARGS,
     "ntp_try_submit(callback, context, env=None)"},
    {"ntp_wait_set", py_wait_set, METH_VARARGS,
     "ntp_wait_set(wait, handle, timeout_ms)"},
    {"ntp_wait_set_due", py_wait_set_ex, METH_VARARGS,
     "ntp_wait_set_due(wait, handle, due): as ntp_wait_set_ex"},
    {"ntp_wait_set_ex", py_wait_set_ex, METH_VARARGS,
     "ntp_wait_set_ex(wait, handle, due) -> bool"},
    {"ntp_cleanup_group_close_members", py_cleanup_group_close_members,
     METH_VARARGS,
     "ntp_cleanup_group_close_members(group, cancel_pending, context)"},
    {"ntp_wait_for_multiple", py_wait_for_multiple, METH_VARARGS,
     "ntp_wait_for_multiple(handles, wait_all, timeout_ms, alertable)"},
    {"ntp_queue_apc", py_queue_apc, METH_VARARGS,
     "ntp_queue_apc(func, thread, data)"},
    {"ntp_queue_user_work_item", py_queue_user_work_item, METH_VARARGS,
     "ntp_queue_user_work_item(func, context, flags)"},
    {"ntp_waitable_timer_set_apc", py_waitable_timer_set_apc, METH_VARARGS,
     "ntp_waitable_timer_set_apc(timer, due, period_ms, func, arg)"},
    {"ntp_bind_io_completion_callback", py_bind_io_completion_callback,
     METH_VARARGS, "ntp_bind_io_completion_callback(fd, func, flags) -> IO"},
    {"ntp_register_wait", py_register_wait, METH_VARARGS,
     "ntp_register_wait(handle, callback, context, timeout_ms, flags)"},
    {"ntp_unregister_wait_ex", py_unregister_wait_ex, METH_VARARGS,
     "ntp_unregister_wait_ex(wait, completion)"},
    {"ntp_unregister_wait", py_unregister_wait_ex, METH_VARARGS,
     "ntp_unregister_wait(wait)"},
    {"ntp_timer_queue_timer_create", py_timer_queue_timer_create,
     METH_VARARGS,
     "ntp_timer_queue_timer_create(queue, callback, context, due_ms, "
     "period_ms, flags)"},
    {"ntp_timer_queue_timer_delete", py_timer_queue_timer_delete,
     METH_VARARGS, "ntp_timer_queue_timer_delete(queue, timer, completion)"},
    {"ntp_timer_queue_delete_ex", py_timer_queue_delete_ex, METH_VARARGS,
     "ntp_timer_queue_delete_ex(queue, completion)"},
    {"ntp_timer_queue_delete", py_timer_queue_delete_ex, METH_VARARGS,
     "ntp_timer_queue_delete(queue)"},
    {"ntp_pool_close", py_pool_close, METH_VARARGS, "ntp_pool_close(pool)"},
    {"ntp_cleanup_group_close", py_cleanup_group_close, METH_VARARGS,
     "ntp_cleanup_group_close(group)"},
    {"ntp_work_close", py_work_close, METH_VARARGS, "ntp_work_close(work)"},
    {"ntp_timer_close", py_timer_close, METH_VARARGS,
     "ntp_timer_close(timer)"},
    {"ntp_wait_close", py_wait_close, METH_VARARGS, "ntp_wait_close(wait)"},
    {"ntp_io_close", py_io_close, METH_VARARGS, "ntp_io_close(io)"},
    {"ntp_handle_close", py_handle_close, METH_VARARGS,
     "ntp_handle_close(handle)"},
    {"ntp_pool_default", py_pool_default, METH_NOARGS,
     "ntp_pool_default() -> Pool (never closed)"},
    {"ntp_pool_dump", py_pool_dump, METH_VARARGS,
     "ntp_pool_dump(pool, flags) -> str"},
    {"ntp_io_read", py_io_read, METH_VARARGS,
     "ntp_io_read(io, overlapped, size)"},
    {"ntp_io_write", py_io_write, METH_VARARGS,
     "ntp_io_write(io, overlapped, data)"},
    {"ntp_io_cancel_ops", py_io_cancel_ops, METH_VARARGS,
     "ntp_io_cancel_ops(io, overlapped=None)"},
    {"ntp_overlapped_result", py_overlapped_result, METH_VARARGS,
     "ntp_overlapped_result(overlapped, wait) -> nbytes"},
    {"ntp_env_init", py_env_init, METH_NOARGS, "ntp_env_init() -> Env"},
    {"ntp_env_destroy", py_env_destroy, METH_O, "ntp_env_destroy(env)"},
    {"ntp_env_set_pool", py_env_set_pool, METH_VARARGS,
     "ntp_env_set_pool(env, pool)"},
    {"ntp_env_set_cleanup_group", py_env_set_cleanup_group, METH_VARARGS,
     "ntp_env_set_cleanup_group(env, group, cancel_callback)"},
    {"ntp_env_set_priority", py_env_set_priority, METH_VARARGS,
     "ntp_env_set_priority(env, priority)"},
    {"ntp_env_set_runs_long", py_env_set_runs_long, METH_O,
     "ntp_env_set_runs_long(env)"},
    {"ntp_env_set_persistent", py_env_set_persistent, METH_O,
     "ntp_env_set_persistent(env)"},
    {"ntp_env_set_library", py_env_set_library, METH_VARARGS,
     "ntp_env_set_library(env, library)"},
    {"ntp_instance_set_event_on_return", py_inst_set_event, METH_VARARGS,
     "ntp_instance_set_event_on_return(instance, event)"},
    {"ntp_instance_release_semaphore_on_return", py_inst_release_semaphore,
     METH_VARARGS,
     "ntp_instance_release_semaphore_on_return(instance, sem, count)"},
    {"ntp_instance_release_mutex_on_return", py_inst_release_mutex,
     METH_VARARGS, "ntp_instance_release_mutex_on_return(instance, mutex)"},
    {"ntp_instance_leave_cs_on_return", py_inst_leave_cs, METH_VARARGS,
     "ntp_instance_leave_cs_on_return(instance, cs)"},
    {"ntp_instance_free_library_on_return", py_inst_free_library,
     METH_VARARGS, "ntp_instance_free_library_on_return(instance, lib)"},
    {"ntp_instance_may_run_long", py_inst_may_run_long, METH_VARARGS,
     "ntp_instance_may_run_long(instance) -> bool"},
    {"ntp_instance_disassociate", py_inst_disassociate, METH_VARARGS,
     "ntp_instance_disassociate(instance)"},
    {"_stop_dispatch", ntpy_stop_dispatch, METH_O,
     "_stop_dispatch(timeout_s) -> bool: the interpreter-exit hook."},
    {NULL, NULL, 0, NULL},
};

static int
add_type(PyObject *m, PyTypeObject *t, const char *name)
{
    if (PyType_Ready(t) < 0)
        return -1;
    Py_INCREF(t);
    if (PyModule_AddObject(m, name, (PyObject *)t) < 0) {
        Py_DECREF(t);
        return -1;
    }
    return 0;
}

int
ntpy_glue_init(PyObject *m)
{
    static bool hooks_done;
    if (add_type(m, &Object_Type, "Object") < 0 ||
        add_type(m, &Instance_Type, "Instance") < 0 ||
        add_type(m, &Env_Type, "Env") < 0 ||
        add_type(m, &CS_Type, "CriticalSection") < 0 ||
        add_type(m, &Overlapped_Type, "Overlapped") < 0)
        return -1;
    if (PyModule_AddFunctions(m, glue_functions) < 0)
        return -1;
    if (no_context == NULL) {
        no_context = PyObject_CallObject((PyObject *)&PyBaseObject_Type, NULL);
        if (no_context == NULL)
            return -1;
    }
    Py_INCREF(no_context);
    if (PyModule_AddObject(m, "NO_CONTEXT", no_context) < 0) {
        Py_DECREF(no_context);
        return -1;
    }
    PyObject *cur = wrap_borrowed(NTPY_HANDLE, NTP_CURRENT_THREAD);
    if (cur == NULL || PyModule_AddObject(m, "CURRENT_THREAD", cur) < 0) {
        Py_XDECREF(cur);
        return -1;
    }
    if (PyModule_AddIntConstant(m, "KIND_POOL", NTPY_POOL) < 0)
        return -1;
    if (!hooks_done) {
        if (ntpy_gil_init() < 0)
            return -1;
        hooks_done = true;
    }
    return 0;
}

void
ntpy_unkeep(PyObject *o, int how)
{
    if (how == NTPY_KEEP_LEAVE) {
        ntpy_leave(o);
        return;
    }
    if (how == NTPY_KEEP_CS)
        ((CSObject *)o)->busy--;
    Py_DECREF(o);
}

/* Called by python_gil.c when a pool thread that holds the GIL ends. */
void
ntpy_glue_thread_exit(void)
{
    if (tls_instance != NULL) {
        InstanceObject *io = tls_instance;
        tls_instance = NULL;
        Py_DECREF(io);
    }
}
