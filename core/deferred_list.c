/* SPDX-License-Identifier: MIT */
/*
 * DeferredList and gatherResults (Twisted 22.4 semantics).
 *
 * Object graph while the list is unfired (all references strong, like the
 * Python objects): the list Deferred's canceller argument is the shared
 * state; the state holds the list Deferred and every input; each input holds
 * one callback pair whose argument is a slot of the state. When the list
 * fires, the state lets go of the list and the inputs; the slots keep the
 * state alive until their input fires or is destroyed, and the list Deferred
 * keeps it until it is destroyed (values borrowed by the inputs stay valid).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <coil/deferred.h>

#include "deferred_int.h"
#include <coil/log.h>

/* Defined in deferred.c: keep the canceller argument until the Deferred is
 * destroyed and make cancel() only run the canceller (DeferredList.cancel
 * replaces Deferred.cancel in Twisted). */

struct dl_state;

struct dl_slot {
    struct dl_state *st;
    size_t index;
};

struct dl_state {
    unsigned refs;
    coil_deferred *dl;      /* held until the list fires; NULL after */
    coil_deferred **inputs; /* held until the list fires; NULL after */
    size_t n;
    size_t finished;
    bool fire_on_one_callback;
    bool fire_on_one_errback;
    bool consume_errors;
    coil_deferred_list_result *list; /* results so far; NULL once delivered */
    struct dl_slot slots[];
};

static void list_result_free(void *p)
{
    coil_deferred_list_result *res = p;
    for (size_t i = 0; i < res->count; i++)
        coil_result_release(res->items[i].result);
    free(res);
}

static void list_first_free(void *p)
{
    coil_deferred_list_first *first = p;
    coil_result_release(first->result);
    free(first);
}

static void release_inputs(struct dl_state *st)
{
    coil_deferred **inputs = st->inputs;
    st->inputs = NULL;
    if (!inputs)
        return;
    for (size_t i = 0; i < st->n; i++)
        coil_deferred_unref(inputs[i]);
    free(inputs);
}

static void state_unref(void *p)
{
    struct dl_state *st = p;
    if (--st->refs > 0)
        return;
    release_inputs(st);
    coil_deferred_unref(st->dl);
    if (st->list)
        list_result_free(st->list);
    free(st);
}

/* Once the list Deferred has fired (by us, or by someone calling its
 * callback directly) it needs neither itself nor the inputs any more. */
static void settle(struct dl_state *st)
{
    if (!st->dl || !coil_deferred_called(st->dl))
        return;
    coil_deferred *dl = st->dl;
    st->dl = NULL;
    release_inputs(st);
    coil_deferred_unref(dl);
}

static bool list_fired(const struct dl_state *st)
{
    return !st->dl || coil_deferred_called(st->dl);
}

/* A value the list keeps, seen by the input's later callbacks. */
static coil_result borrowed_view(coil_result r)
{
    return coil_result_value(r.value.ptr, NULL);
}

static void fire_first_success(struct dl_state *st, size_t index)
{
    coil_deferred_list_first *first = malloc(sizeof(*first));
    if (!first) {
        coil_deferred_errback(st->dl, coil_failure_new("coil", -ENOMEM, "Out of memory"));
        return;
    }
    coil_deferred_list_item *item = &st->list->items[index];
    first->index = index;
    first->result = item->result; /* the value moves on; the list keeps a view */
    item->result = borrowed_view(first->result);
    coil_deferred_callback(st->dl, coil_result_value(first, list_first_free));
}

static void fire_first_error(struct dl_state *st, size_t index, coil_failure *f)
{
    coil_failure *fe = coil_failure_wrap(coil_failure_ref(f), COIL_DEFER_DOMAIN,
                                         COIL_DEFER_FIRST_ERROR, "FirstError[#%zu]", index);
    coil_failure_set_data(fe, (void *)(uintptr_t)index, NULL);
    coil_deferred_errback(st->dl, fe);
}

static void fire_list(struct dl_state *st, coil_deferred *dl)
{
    coil_deferred_list_result *res = st->list;
    st->list = NULL;
    coil_deferred_callback(dl, coil_result_value(res, list_result_free));
}

/* Record one input's result while the list is unfired, and fire the list
 * if this completes it. Returns what the input's chain continues with. */
static coil_result record(struct dl_state *st, size_t index, coil_result r)
{
    bool ok = r.kind != COIL_RESULT_FAILURE;
    coil_deferred_list_item *item = &st->list->items[index];
    coil_result onward = r;
    item->success = ok;
    if (ok) {
        item->result = r;
        onward = borrowed_view(r);
    } else {
        item->result = coil_result_failure(coil_failure_ref(r.failure));
    }
    if (ok && st->fire_on_one_callback)
        fire_first_success(st, index);
    else if (!ok && st->fire_on_one_errback)
        fire_first_error(st, index, r.failure);
    else if (st->finished == st->n)
        fire_list(st, st->dl);
    return onward;
}

/* Both halves of the pair added to every input (Twisted's _cbDeferred). */
static coil_result slot_fire(coil_result r, void *arg)
{
    struct dl_slot *slot = arg;
    struct dl_state *st = slot->st;
    bool failed = r.kind == COIL_RESULT_FAILURE;
    st->finished++;
    if (!list_fired(st))
        r = record(st, slot->index, r);
    settle(st);
    if (failed && st->consume_errors) {
        coil_result_release(r);
        return coil_result_none();
    }
    return r;
}

static void slot_release(void *arg)
{
    struct dl_slot *slot = arg;
    state_unref(slot->st);
}

/* DeferredList.cancel: cancel every input while the list is unfired. */
static void list_cancel(coil_deferred *dl, void *arg)
{
    struct dl_state *st = arg;
    coil_deferred **inputs = st->inputs;
    size_t n = st->n;
    if (!inputs)
        return;
    /* Cancelling an input may fire the list, which releases the inputs:
     * take them over for the duration of the loop. */
    st->inputs = NULL;
    for (size_t i = 0; i < n; i++)
        coil_deferred_cancel(inputs[i]);
    for (size_t i = 0; i < n; i++)
        coil_deferred_unref(inputs[i]);
    free(inputs);
}

static struct dl_state *state_new(size_t n, bool fooc, bool fooe, bool consume)
{
    struct dl_state *st = calloc(1, sizeof(*st) + n * sizeof(st->slots[0]));
    if (!st)
        return NULL;
    st->list = calloc(1, sizeof(*st->list) + n * sizeof(st->list->items[0]));
    st->inputs = n ? calloc(n, sizeof(*st->inputs)) : NULL;
    if (!st->list || (n && !st->inputs)) {
        free(st->list);
        free(st->inputs);
        free(st);
        return NULL;
    }
    st->refs = 1; /* the list Deferred's canceller argument */
    st->n = n;
    st->list->count = n;
    st->fire_on_one_callback = fooc;
    st->fire_on_one_errback = fooe;
    st->consume_errors = consume;
    return st;
}

/* Attach slot i to its input; if that is impossible, report the input as
 * failed with ENOMEM rather than leaving the list hanging. */
static void attach(struct dl_state *st, coil_deferred *input, size_t i)
{
    st->slots[i] = (struct dl_slot){.st = st, .index = i};
    st->refs++;
    if (coil_deferred_add_callbacks_full(input, slot_fire, slot_fire, &st->slots[i],
                                         slot_release) == 0)
        return;
    coil_failure *f = coil_failure_new("coil", -ENOMEM, "Out of memory attaching to a Deferred");
    coil_result_release(slot_fire(coil_result_failure(f), &st->slots[i]));
    state_unref(st);
}

coil_deferred *coil_deferred_list(coil_deferred *const *ds, size_t n, bool fire_on_one_callback,
                                  bool fire_on_one_errback, bool consume_errors)
{
    struct dl_state *st = state_new(n, fire_on_one_callback, fire_on_one_errback, consume_errors);
    if (!st)
        return NULL;
    coil_deferred *dl = coil_deferred_new_full(list_cancel, st, state_unref);
    if (!dl) {
        state_unref(st);
        return NULL;
    }
    coil__deferred_init_list(dl);
    if (n == 0) {
        if (!fire_on_one_callback)
            fire_list(st, dl);
        return dl;
    }
    st->dl = coil_deferred_ref(dl);
    for (size_t i = 0; i < n; i++)
        st->inputs[i] = coil_deferred_ref(ds[i]);
    /* Flags are set before attaching: pre-fired inputs report right away
     * and may fire the list during this loop. Keep attaching regardless. */
    for (size_t i = 0; i < n; i++)
        attach(st, ds[i], i);
    return dl;
}

coil_deferred *coil_gather_results(coil_deferred *const *ds, size_t n, bool consume_errors)
{
    return coil_deferred_list(ds, n, false, true, consume_errors);
}

bool coil_failure_is_first_error(const coil_failure *f)
{
    return coil_failure_check(f, COIL_DEFER_DOMAIN, COIL_DEFER_FIRST_ERROR);
}

size_t coil_first_error_index(const coil_failure *f)
{
    if (!coil_failure_is_first_error(f))
        return SIZE_MAX;
    return (size_t)(uintptr_t)coil_failure_data(f);
}
