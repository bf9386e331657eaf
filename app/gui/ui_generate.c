// The Generate page: class picker and sampler settings on the left; the step-by-step reveal,
// then the grid of results with selection and saving, on the right.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "app/gui/gen_adapter.h"
#include "app/gui/ui.h"

#define P(x) gui_px(&a->d, (x))

// "golden retriever" from "golden retriever" / "tench" from "tench, Tinca tinca".
static void first_name(const char *name, char *out, size_t n) { snprintf(out, n, "%.*s", (int)strcspn(name, ","), name); }

static void class_list(gui_app *a, SDL_Rect r) {
    gui_state *s = &a->s;
    int rh = P(30), rows = r.h / rh;
    if (rows < 1) return;
    // keep the keyboard selection in view
    int at = -1;
    for (int i = 0; i < s->n_matches; i++)
        if (s->matches[i] == s->class_sel) at = i;
    if (at >= 0 && at >= s->class_scroll + rows) s->class_scroll = at - rows + 1;
    if (gui_hover(a, r) && a->ui.wheel) s->class_scroll -= a->ui.wheel * 3;
    if (s->class_scroll > s->n_matches - rows) s->class_scroll = s->n_matches - rows;
    if (s->class_scroll < 0) s->class_scroll = 0;
    if (s->n_matches == 0) {
        const char *t = s->n_classes ? "No class matches the search" : "No classes: load a generator first";
        gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){r.x, r.y, r.w, rh}, 1, GUI_FAINT, t);
        return;
    }
    SDL_RenderSetClipRect(a->ren, &r);
    for (int i = 0; i < rows && s->class_scroll + i < s->n_matches; i++) {
        int id = s->matches[s->class_scroll + i];
        SDL_Rect row = {r.x, r.y + i * rh, r.w - P(8), rh};
        bool sel = id == s->class_sel, hover = gui_hover(a, row);
        if (sel) gui_round(&a->d, row, P(6), GUI_ACCENT_SOFT);
        else if (hover) gui_round(&a->d, row, P(6), GUI_HOVER);
        char name[256], num[16];
        first_name(s->class_names[id], name, sizeof name);
        snprintf(num, sizeof num, "%d", id);
        int nw = gui_text_width(&a->d, GUI_FONT_SMALL, num);
        gui_text_in(&a->d, sel ? GUI_FONT_BOLD : GUI_FONT_BODY, (SDL_Rect){row.x + P(10), row.y, row.w - nw - P(30), rh}, 0,
                    sel || hover ? GUI_TEXT : GUI_DIM, name);
        gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){row.x, row.y, row.w - P(10), rh}, 2, sel ? GUI_TEXT : GUI_FAINT, num);
        if (hover) {
            a->ui.want_hand = true;
            snprintf(a->ui.hint, sizeof a->ui.hint, "%d: %s", id, s->class_names[id]);
        }
        if (gui_clicked(a, row)) gui_state_pick_class(s, id);
    }
    SDL_RenderSetClipRect(a->ren, NULL);
    if (s->n_matches > rows) {  // a thin scroll indicator
        int th = r.h * rows / s->n_matches, ty = r.y + (r.h - th) * s->class_scroll / (s->n_matches - rows);
        gui_round(&a->d, (SDL_Rect){r.x + r.w - P(4), ty, P(4), th < P(20) ? P(20) : th}, P(2), GUI_BORDER);
    }
}

static void labelled_field(gui_app *a, int x, int y, int w, const char *label, gui_field f) {
    gui_text(&a->d, GUI_FONT_SMALL, x, y, GUI_DIM, label);
    gui_text_field(a, (SDL_Rect){x, y + gui_font_height(&a->d, GUI_FONT_SMALL) + P(5), w, P(34)}, f, NULL);
}

static void left_panel(gui_app *a, SDL_Rect r) {
    gui_state *s = &a->s;
    gui_card(a, r);
    int x = r.x + P(18), w = r.w - P(36), y = r.y + P(18);
    char chosen[160] = "";
    if (s->class_sel >= 0 && s->class_names) {
        char n[128];
        first_name(s->class_names[s->class_sel], n, sizeof n);
        snprintf(chosen, sizeof chosen, "%s (%d)", n, s->class_sel);
    }
    y = gui_section(a, x, y, w, "CLASS", chosen[0] ? chosen : NULL);
    gui_text_field(a, (SDL_Rect){x, y, w, P(36)}, GUI_FIELD_SEARCH, "Search classes by name or number");
    y += P(36) + P(8);

    // settings block, pinned to the bottom; the class list takes what is left
    int lh = gui_font_height(&a->d, GUI_FONT_SMALL) + P(5) + P(34) + P(12);
    int settings_h = gui_font_height(&a->d, GUI_FONT_SMALL) + P(8) + 3 * lh + P(30) + P(12) + P(44);
    int sy = r.y + r.h - P(18) - settings_h;
    class_list(a, (SDL_Rect){x, y, w + P(8), sy - P(14) - y});
    gui_fill(&a->d, (SDL_Rect){x, sy - P(8), w, P(1)}, GUI_BORDER);

    y = gui_section(a, x, sy + P(6), w, "SETTINGS", NULL);
    int cw = (w - P(12)) / 2, x2 = x + cw + P(12);
    labelled_field(a, x, y, cw, "Steps", GUI_FIELD_STEPS);
    labelled_field(a, x2, y, cw, "CFG scale", GUI_FIELD_CFG);
    y += lh;
    labelled_field(a, x, y, cw, "Temperature", GUI_FIELD_TEMP);
    labelled_field(a, x2, y, cw, "Mask temperature", GUI_FIELD_MASK_TEMP);
    y += lh;
    labelled_field(a, x, y, cw, "Seed", GUI_FIELD_SEED);
    labelled_field(a, x2, y, cw, "Count", GUI_FIELD_COUNT);
    y += lh;
    SDL_Rect sw = {x, y, P(40), P(22)};
    if (gui_switch(a, sw, s->seed_random)) s->seed_random = !s->seed_random;
    gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){x + P(50), y, w - P(50), P(22)}, 0, GUI_DIM,
                "new random seed for every run");
    y += P(30) + P(12);
    SDL_Rect go = {x, y, w, P(44)};
    if (s->busy && s->running.kind == GUI_JOB_GENERATE) {
        if (gui_button(a, go, s->cancel_requested ? "Cancelling…" : "Cancel   (Esc)", 3, !s->cancel_requested))
            gui_state_cancel(s);
    } else if (gui_button(a, go, "Generate   (Space)", 1, s->gen_loaded && s->class_sel >= 0)) {
        gui_state_focus(s, GUI_FIELD_NONE);
        gui_state_request_generate(s);
    }
}

// Columns that make the biggest square tiles for n images in w x h (captions under tiles).
static int best_cols(int n, int w, int h, int gap, int cap, int *tile) {
    int best = 1, best_t = 0;
    for (int cols = 1; cols <= n; cols++) {
        int rows = (n + cols - 1) / cols;
        int tw = (w - (cols - 1) * gap) / cols, th = (h - (rows - 1) * gap) / rows - cap;
        int t = tw < th ? tw : th;
        if (t > best_t) best_t = t, best = cols;
    }
    *tile = best_t;
    return best;
}

static void grid(gui_app *a, SDL_Rect r, bool live) {
    gui_state *s = &a->s;
    int n = live ? (s->n_preview ? s->n_preview : s->running.count) : s->n_results;
    SDL_Texture **tex = live ? a->ui.preview : a->ui.results;
    int ntex = live ? a->ui.n_preview : a->ui.n_results;
    int gap = P(14), cap = P(26), tile, min_tile = P(112);
    int cols = best_cols(n, r.w, r.h, gap, cap, &tile);
    if (tile > P(512)) tile = P(512);  // past this the images are upscaled mush
    if (tile < min_tile) {             // many images: fixed size tiles, scrolled
        tile = min_tile;
        cols = (r.w + gap) / (tile + gap);
        if (cols < 1) cols = 1;
    }
    int rows = (n + cols - 1) / cols, rows_fit = (r.h + gap) / (tile + cap + gap);
    if (rows_fit < 1) rows_fit = 1;
    if (gui_hover(a, r) && a->ui.wheel) a->ui.grid_scroll -= a->ui.wheel;
    if (a->ui.grid_scroll > rows - rows_fit) a->ui.grid_scroll = rows - rows_fit;
    if (a->ui.grid_scroll < 0) a->ui.grid_scroll = 0;
    int gw = cols * tile + (cols - 1) * gap, shown_rows = rows - a->ui.grid_scroll < rows_fit ? rows - a->ui.grid_scroll : rows_fit;
    int gh = shown_rows * (tile + cap) + (shown_rows - 1) * gap;
    int x0 = r.x + (r.w - gw) / 2, y0 = r.y + (r.h - gh) / 2;
    SDL_Rect clip = gui_inset(r, -P(4), -P(4));
    SDL_RenderSetClipRect(a->ren, &clip);
    for (int i = a->ui.grid_scroll * cols; i < n && i < (a->ui.grid_scroll + rows_fit) * cols; i++) {
        int row = i / cols - a->ui.grid_scroll, col = i % cols;
        SDL_Rect t = {x0 + col * (tile + gap), y0 + row * (tile + cap + gap), tile, tile};
        bool sel = !live && s->results[i].selected, cursor = !live && i == s->result_cursor, hover = !live && gui_hover(a, t);
        SDL_Rect frame = gui_inset(t, -P(3), -P(3));
        if (sel) gui_round(&a->d, frame, P(9), GUI_ACCENT);
        else if (hover || cursor) gui_round(&a->d, frame, P(9), GUI_BORDER);
        gui_fill(&a->d, t, GUI_RAISED);
        if (i < ntex && tex[i]) SDL_RenderCopy(a->ren, tex[i], NULL, &t);
        else gui_progress_bar(a, (SDL_Rect){t.x + t.w / 4, t.y + t.h / 2 - P(3), t.w / 2, P(6)}, -1);
        if (sel) {
            SDL_Rect b = {t.x + t.w - P(30), t.y + P(8), P(22), P(22)};
            gui_round(&a->d, b, P(11), GUI_ACCENT);
            gui_text_in(&a->d, GUI_FONT_SMALL, b, 1, (SDL_Color){255, 255, 255, 255}, "✓");
        }
        char capt[96];
        if (live) snprintf(capt, sizeof capt, "seed %llu", (unsigned long long)(s->running.seed + (uint64_t)i));
        else snprintf(capt, sizeof capt, "seed %llu", (unsigned long long)s->results[i].seed);
        gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){t.x, t.y + t.h + P(4), t.w, cap - P(4)}, 1, sel ? GUI_TEXT : GUI_DIM, capt);
        if (hover) {
            a->ui.want_hand = true;
            snprintf(a->ui.hint, sizeof a->ui.hint, "click to select for saving · Ctrl+A all");
        }
        if (!live && gui_clicked(a, t)) gui_state_toggle_result(s, i);
    }
    SDL_RenderSetClipRect(a->ren, NULL);
    if (rows > rows_fit) {  // more rows than fit: a scroll indicator on the right edge
        int th = r.h * rows_fit / rows, ty = r.y + (r.h - th) * a->ui.grid_scroll / (rows - rows_fit);
        gui_round(&a->d, (SDL_Rect){r.x + r.w + P(6), ty, P(4), th}, P(2), GUI_BORDER);
        if (gui_hover(a, r)) snprintf(a->ui.hint, sizeof a->ui.hint, "scroll for more: %d images", n);
    }
}

static void results_panel(gui_app *a, SDL_Rect r) {
    gui_state *s = &a->s;
    gui_card(a, r);
    bool live = s->busy && s->running.kind == GUI_JOB_GENERATE;
    if (!s->gen_loaded && !live) {
        bool loading = s->busy && s->running.kind == GUI_JOB_LOAD_GEN;
        if (!gui_gen_built()) {
            gui_empty_state(a, r, "Generator not available in this build",
                            "This build of seer has no image generator (generate/enat.h, tokenizer/vqgan.h).", GUI_TEXT);
        } else if (loading) {
            gui_empty_state(a, r, "Loading the generator…", s->progress_text, GUI_TEXT);
        } else {
            int by = gui_empty_state(a, r, "No generator weights loaded",
                            s->generators.count
                                ? "Pick a generator in the top bar, or open a weights file (Ctrl+O)."
                                : "Looked for enat_l.safetensors and enat_l_512.safetensors (with the "
                                  "vq-f16-jax.safetensors tokenizer) in $SEER_MODELS and assets/models. seer ships "
                                  "no ImageNet generator weights: convert an ENAT checkpoint with tools/convert.py, "
                                  "then open it here (Ctrl+O).",
                            GUI_TEXT);
            SDL_Rect b = {r.x + (r.w - P(200)) / 2, by + P(24), P(200), P(40)};
            if (gui_button(a, b, "Open weights file…", 0, true)) gui_state_open_dialog(s);
        }
        return;
    }
    int x = r.x + P(20), w = r.w - P(40), y = r.y + P(18), hh = P(36);
    // header: what is shown, and saving
    char title[256];
    if (live && s->preview_steps)
        snprintf(title, sizeof title, "Generating · step %d of %d", s->preview_step, s->preview_steps);
    else if (live)
        snprintf(title, sizeof title, "Generating…");
    else if (s->n_results)
        snprintf(title, sizeof title, "%d result%s · %s%s", s->n_results, s->n_results == 1 ? "" : "s",
                 s->gen_name, s->gen_guide[0] ? " (guided)" : "");
    else
        gui_copy(title, sizeof title, s->gen_name);
    int n_sel = 0;
    for (int i = 0; i < s->n_results; i++) n_sel += s->results[i].selected;
    char sl[48];
    if (n_sel) snprintf(sl, sizeof sl, "Save selected (%d)", n_sel);
    else snprintf(sl, sizeof sl, "Save selected");
    int bw_all = P(96), bw_sel = gui_text_width(&a->d, GUI_FONT_BODY, "Save selected (00)") + P(24);
    // a narrow window gives up the folder field's width first, then the "Save to" label
    int fw = w - bw_all - bw_sel - P(16) - P(60) - P(220);
    fw = fw > P(240) ? P(240) : fw < P(130) ? P(130) : fw;
    SDL_Rect all = {x + w - bw_all, y, bw_all, hh}, sel = {all.x - P(8) - bw_sel, y, bw_sel, hh};
    SDL_Rect dir = {sel.x - P(8) - fw, y, fw, hh};
    bool label = dir.x - P(70) - x >= P(150);
    int tw = dir.x - (label ? P(70) : P(12)) - x;
    gui_text_in(&a->d, GUI_FONT_BOLD, (SDL_Rect){x, y, tw, hh}, 0, GUI_TEXT, title);
    if (label) gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){dir.x - P(60), y, P(52), hh}, 2, GUI_DIM, "Save to");
    gui_text_field(a, dir, GUI_FIELD_SAVE_DIR, "folder");
    bool can = !live && s->n_results > 0;
    if (gui_button(a, sel, sl, 0, can && n_sel > 0)) gui_state_push_action(s, GUI_ACT_SAVE);
    if (gui_button(a, all, "Save all", 0, can)) {
        gui_state_select_all_results(s, false);
        gui_state_push_action(s, GUI_ACT_SAVE);
    }
    y += hh + P(12);
    if (live) {
        float frac = s->preview_steps ? (float)s->preview_step / s->preview_steps : -1;
        gui_progress_bar(a, (SDL_Rect){x, y, w, P(6)}, frac);
    } else {
        gui_fill(&a->d, (SDL_Rect){x, y + P(3), w, P(1)}, GUI_BORDER);
    }
    y += P(6) + P(16);
    SDL_Rect area = {x, y, w, r.y + r.h - P(18) - y};
    if (live || s->n_results) {
        grid(a, gui_inset(area, P(4), P(4)), live);  // room for the selection frames
    } else {
        gui_empty_state(a, area, "Pick a class and press Generate",
                        "Tokens are revealed step by step as the sampler commits them; the finished images "
                        "appear here as a grid. Select some to save them as PNG with their settings.",
                        GUI_TEXT);
    }
}

void gui_draw_generate(gui_app *a, SDL_Rect c) {
    int lw = P(340), gap = P(14);
    left_panel(a, (SDL_Rect){c.x, c.y, lw, c.h});
    results_panel(a, (SDL_Rect){c.x + lw + gap, c.y, c.w - lw - gap, c.h});
}
