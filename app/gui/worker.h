// The inference thread. It owns the loaded models (a model is used by one thread only), runs
// one job at a time, and hands results and progress back through mailboxes the UI thread
// polls; the UI never waits on it, so the window never freezes.
#ifndef GUI_WORKER_H
#define GUI_WORKER_H

#include <stdbool.h>

#include "app/gui/state.h"

typedef struct gui_worker gui_worker;

// wake(user) is called from the worker thread whenever there is something to poll.
typedef void (*gui_wake_fn)(void *user);

gui_worker *gui_worker_new(gui_wake_fn wake, void *user);  // NULL when the thread cannot start
void gui_worker_free(gui_worker *w);  // cancels, waits for the job to stop, frees the models

bool gui_worker_submit(gui_worker *w, const gui_job *j);  // false while a job runs
void gui_worker_cancel(gui_worker *w);
bool gui_worker_busy(gui_worker *w);

// The finished job, once (ownership of its images and names moves to the caller).
bool gui_worker_result(gui_worker *w, gui_job_result *out);

typedef struct gui_progress {
    int job_id, done, total;
    char text[128];
    seer_image *preview;  // GENERATE: the partial grids of the latest step (owned), or NULL
    int n_preview, step, steps;
} gui_progress;
// The latest progress since the last call (older previews are dropped), once.
bool gui_worker_progress(gui_worker *w, gui_progress *out);

#endif
