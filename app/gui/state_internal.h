// Helpers shared by state.c and state_jobs.c only.
#ifndef GUI_STATE_INTERNAL_H
#define GUI_STATE_INTERNAL_H

#include "app/gui/state.h"

void gui_free_names(char **names, int n);  // NULL is fine
void gui_clear_results(gui_state *s);      // frees the result images
void gui_clear_preview(gui_state *s);      // frees the partial grids

#endif
