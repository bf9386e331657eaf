// The window's contents, drawn immediate-mode: every frame is drawn from the state, and a
// widget reports a click on itself while it is drawn. app.h's gui_app carries it all.
#ifndef GUI_UI_H
#define GUI_UI_H

#include <SDL.h>
#include <stdbool.h>

#include "app/gui/draw.h"
#include "app/gui/state.h"
#include "app/gui/worker.h"

typedef struct gui_ui {
    int mx, my;                   // mouse, in pixels
    bool down, pressed, released; // left button: held, went down / up this frame
    int press_x, press_y;
    int wheel;                    // wheel steps this frame (+ = up)
    bool block;                   // a popup or dialog owns the mouse this frame
    SDL_Rect popup_rect, popup_anchor;
    bool want_hand, want_ibeam;   // cursor shape wanted by what is under the mouse
    // textures made from the state's images, remade when its version counters move
    SDL_Texture *shown;
    int shown_version;
    SDL_Texture *attn;            // the attention overlay (ui_attention.c)
    int attn_version;
    SDL_Texture **results, **preview;
    int n_results, n_preview, results_version, preview_version;
    int grid_scroll;              // first visible row of the result grid
    char hint[160];               // tooltip-like hint shown in the status bar while hovering
} gui_ui;

typedef struct gui_app {
    gui_state s;
    gui_worker *worker;
    SDL_Window *win;
    SDL_Renderer *ren;
    gui_draw d;
    gui_ui ui;
    int w, h;            // drawable size in pixels
    float pixel_ratio;   // drawable pixels per window coordinate (2 on HiDPI screens)
    float user_scale;    // --scale / SEER_GUI_SCALE; 0: from the display
    Uint32 wake_event;   // SDL user event the worker posts to wake the loop
    SDL_mutex *log_mu;   // library logs arrive from any thread
    char pending_log[16][256];
    int n_pending_log;
    bool headless;
    char save_default[1024];
} gui_app;

// Widgets (ui.c). Styles: 0 plain, 1 primary, 2 quiet (text only), 3 danger.
bool gui_hover(gui_app *a, SDL_Rect r);
bool gui_clicked(gui_app *a, SDL_Rect r);
bool gui_button(gui_app *a, SDL_Rect r, const char *label, int style, bool enabled);
void gui_text_field(gui_app *a, SDL_Rect r, gui_field f, const char *placeholder);
bool gui_switch(gui_app *a, SDL_Rect r, bool on);
int gui_section(gui_app *a, int x, int y, int w, const char *title, const char *right);
void gui_progress_bar(gui_app *a, SDL_Rect r, float frac);  // frac < 0: indeterminate
void gui_card(gui_app *a, SDL_Rect r);
// A centred headline and wrapped text; returns the y below them.
int gui_empty_state(gui_app *a, SDL_Rect r, const char *title, const char *body, SDL_Color title_color);
void gui_format_bytes(size_t b, char *out, size_t n);

// Texture upkeep for the state's images.
void gui_sync_textures(gui_app *a);
void gui_free_textures(gui_app *a);

// The attention overlay over the image drawn at img (ui_attention.c).
SDL_Rect gui_input_rect(const gui_app *a, SDL_Rect img);
void gui_draw_attention(gui_app *a, SDL_Rect img);
void gui_free_attention_texture(gui_app *a);

// Mode pages.
void gui_draw_classify(gui_app *a, SDL_Rect content);
void gui_draw_generate(gui_app *a, SDL_Rect content);

// One whole frame into the renderer (not presented).
void gui_draw_frame(gui_app *a);

#endif
