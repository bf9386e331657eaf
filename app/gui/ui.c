// The frame: top bar (modes, model, device, precision), the page of the mode, the status
// line, and what floats above them (pickers, the open-weights dialog, errors). Widgets too.
#include "app/gui/ui.h"

#include <stdio.h>
#include <string.h>

#define P(x) gui_px(&a->d, (x))

// ---- widgets ------------------------------------------------------------------------------

bool gui_hover(gui_app *a, SDL_Rect r) { return !a->ui.block && gui_in(r, a->ui.mx, a->ui.my); }

bool gui_clicked(gui_app *a, SDL_Rect r) {
    // a click is a press and a release on the same widget
    return !a->ui.block && a->ui.released && gui_in(r, a->ui.mx, a->ui.my) &&
           gui_in(r, a->ui.press_x, a->ui.press_y);
}

void gui_card(gui_app *a, SDL_Rect r) { gui_round_border(&a->d, r, P(10), GUI_PANEL, GUI_BORDER); }

bool gui_button(gui_app *a, SDL_Rect r, const char *label, int style, bool enabled) {
    bool hover = enabled && gui_hover(a, r), held = hover && a->ui.down;
    SDL_Color fill = GUI_RAISED, text = GUI_TEXT, border = GUI_BORDER;
    if (style == 1) {
        fill = held ? GUI_ACCENT : hover ? GUI_ACCENT_HI : GUI_ACCENT;
        border = fill;
        text = (SDL_Color){255, 255, 255, 255};
    } else if (style == 2) {
        fill = hover ? GUI_HOVER : GUI_PANEL;
        border = fill;
        text = hover ? GUI_TEXT : GUI_DIM;
    } else if (style == 3) {
        fill = hover ? (SDL_Color){110, 44, 52, 255} : GUI_ERROR_BG;
        border = (SDL_Color){120, 52, 60, 255};
        text = (SDL_Color){255, 200, 200, 255};
    } else if (hover) {
        fill = GUI_HOVER;
    }
    if (!enabled) {
        fill = style == 1 ? GUI_ACCENT_SOFT : style == 2 ? GUI_PANEL : GUI_RAISED;
        border = style == 1 || style == 2 ? fill : GUI_BORDER;
        text = GUI_FAINT;
    }
    gui_round_border(&a->d, r, P(7), fill, border);
    gui_text_in(&a->d, style == 1 ? GUI_FONT_BOLD : GUI_FONT_BODY, gui_inset(r, P(10), 0), 1, text, label);
    if (hover) a->ui.want_hand = true;
    return enabled && gui_clicked(a, r);
}

// Byte offset in t nearest to pixel x (relative to the text start).
static int cursor_at(gui_app *a, const gui_edit *t, int x) {
    char buf[GUI_TEXT_MAX];
    int best = 0, best_d = 1 << 30;
    for (int i = 0; i <= t->len; i++) {
        if (i < t->len && ((unsigned char)t->buf[i] & 0xC0) == 0x80) continue;
        snprintf(buf, sizeof buf, "%.*s", i, t->buf);
        int d = gui_text_width(&a->d, GUI_FONT_BODY, buf) - x;
        d = d < 0 ? -d : d;
        if (d < best_d) best_d = d, best = i;
    }
    return best;
}

void gui_text_field(gui_app *a, SDL_Rect r, gui_field f, const char *placeholder) {
    gui_state *s = &a->s;
    gui_edit *t = &s->field[f];
    bool focused = s->focus == f, hover = gui_hover(a, r);
    gui_round_border(&a->d, r, P(7), focused ? (SDL_Color){31, 35, 44, 255} : GUI_RAISED,
                     focused ? GUI_ACCENT : hover ? (SDL_Color){70, 77, 92, 255} : GUI_BORDER);
    SDL_Rect in = gui_inset(r, P(10), 0);
    if (hover) a->ui.want_ibeam = true;
    // keep the cursor in view: scroll the text left when it would leave the box
    char before[GUI_TEXT_MAX];
    snprintf(before, sizeof before, "%.*s", t->cursor, t->buf);
    int cx = gui_text_width(&a->d, GUI_FONT_BODY, before), full = gui_text_width(&a->d, GUI_FONT_BODY, t->buf);
    int shift = 0;
    if (focused && cx > in.w - P(2)) shift = cx - in.w + P(2);
    if (gui_clicked(a, r)) {
        gui_state_focus(s, f);
        t->cursor = cursor_at(a, t, a->ui.mx - in.x + shift);
        t->all = false;
    }
    SDL_Rect clip = in;
    SDL_RenderSetClipRect(a->ren, &clip);
    int fh = gui_font_height(&a->d, GUI_FONT_BODY), ty = r.y + (r.h - fh) / 2;
    if (focused && t->all) gui_round(&a->d, (SDL_Rect){in.x - shift - P(2), ty, (full < in.w ? full : in.w) + P(4), fh}, P(3), GUI_ACCENT_SOFT);
    if (t->len == 0 && placeholder) gui_text(&a->d, GUI_FONT_BODY, in.x, ty, GUI_FAINT, placeholder);
    else if (focused || full <= in.w) gui_text(&a->d, GUI_FONT_BODY, in.x - shift, ty, GUI_TEXT, t->buf);
    SDL_RenderSetClipRect(a->ren, NULL);
    if (!focused && full > in.w && t->len) gui_text_in(&a->d, GUI_FONT_BODY, in, 0, GUI_TEXT, t->buf);
    if (focused && !t->all) gui_fill(&a->d, (SDL_Rect){in.x + cx - shift, ty + P(1), P(1.5f) > 1 ? P(1.5f) : 1, fh - P(2)}, GUI_ACCENT_HI);
}

bool gui_switch(gui_app *a, SDL_Rect r, bool on) {
    bool hover = gui_hover(a, r);
    gui_round(&a->d, r, r.h / 2, on ? GUI_ACCENT : hover ? GUI_HOVER : GUI_TRACK);
    int k = r.h - P(6);
    SDL_Rect knob = {on ? r.x + r.w - k - P(3) : r.x + P(3), r.y + P(3), k, k};
    gui_round(&a->d, knob, k / 2, on ? (SDL_Color){255, 255, 255, 255} : GUI_DIM);
    if (hover) a->ui.want_hand = true;
    return gui_clicked(a, r);
}

int gui_section(gui_app *a, int x, int y, int w, const char *title, const char *right) {
    int h = gui_font_height(&a->d, GUI_FONT_SMALL);
    gui_text(&a->d, GUI_FONT_SMALL, x, y, GUI_FAINT, title);
    if (right) {
        int tw = gui_text_width(&a->d, GUI_FONT_SMALL, title);
        gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){x + tw + P(12), y, w - tw - P(12), h}, 2, GUI_DIM, right);
    }
    return y + h + P(8);
}

void gui_progress_bar(gui_app *a, SDL_Rect r, float frac) {
    gui_round(&a->d, r, r.h / 2, GUI_TRACK);
    if (frac < 0) {
        // indeterminate: a segment sliding along the track
        int seg = r.w / 3, period = 1400, t = (int)(SDL_GetTicks() % (unsigned)period);
        int x = r.x - seg + (int)((long long)(r.w + seg) * t / period);
        SDL_Rect b = {x < r.x ? r.x : x, r.y, seg, r.h};
        if (b.x + b.w > r.x + r.w) b.w = r.x + r.w - b.x;
        if (x < r.x) b.w = seg - (r.x - x);
        if (b.w > 0) gui_round(&a->d, b, r.h / 2, GUI_ACCENT);
        return;
    }
    if (frac > 1) frac = 1;
    int w = (int)(r.w * frac + 0.5f);
    if (w > 0) gui_round(&a->d, (SDL_Rect){r.x, r.y, w < r.h ? r.h : w, r.h}, r.h / 2, GUI_ACCENT);
}

int gui_empty_state(gui_app *a, SDL_Rect r, const char *title, const char *body, SDL_Color title_color) {
    int w = r.w - P(80) < P(560) ? r.w - P(80) : P(560);
    int th = gui_font_height(&a->d, GUI_FONT_TITLE);
    // measure the body first to centre the block
    SDL_Rect probe = {-10000, -10000, w, 10000};
    int bh = body ? gui_text_wrap(&a->d, GUI_FONT_BODY, probe, 1, GUI_DIM, body) : 0;
    int y = r.y + (r.h - th - P(12) - bh) / 2;
    gui_text_in(&a->d, GUI_FONT_TITLE, (SDL_Rect){r.x, y, r.w, th}, 1, title_color, title);
    if (body) gui_text_wrap(&a->d, GUI_FONT_BODY, (SDL_Rect){r.x + (r.w - w) / 2, y + th + P(12), w, bh}, 1, GUI_DIM, body);
    return y + th + P(12) + bh;
}

void gui_format_bytes(size_t b, char *out, size_t n) {
    if (b >= (size_t)1 << 30) snprintf(out, n, "%.2f GB", b / 1073741824.0);
    else if (b >= (size_t)1 << 20) snprintf(out, n, "%.1f MB", b / 1048576.0);
    else snprintf(out, n, "%.0f KB", b / 1024.0);
}

// ---- textures of the state's images ---------------------------------------------------------

static void free_list(SDL_Texture ***list, int *n) {
    for (int i = 0; i < *n; i++)
        if ((*list)[i]) SDL_DestroyTexture((*list)[i]);
    free(*list);
    *list = NULL;
    *n = 0;
}

static void make_list(gui_app *a, SDL_Texture ***list, int *n, const seer_image *imgs, int count, size_t stride) {
    free_list(list, n);
    if (count <= 0) return;
    *list = calloc((size_t)count, sizeof **list);
    if (!*list) return;
    for (int i = 0; i < count; i++) {
        const seer_image *img = (const seer_image *)((const char *)imgs + stride * (size_t)i);
        (*list)[i] = gui_image_texture(&a->d, img, img->w <= 128);
    }
    *n = count;
}

void gui_sync_textures(gui_app *a) {
    gui_state *s = &a->s;
    gui_ui *u = &a->ui;
    if (u->shown_version != s->shown_version) {
        if (u->shown) SDL_DestroyTexture(u->shown);
        // small images (CIFAR's 32x32) are shown as crisp pixels, photos smoothly
        u->shown = s->shown.px ? gui_image_texture(&a->d, &s->shown, s->shown.w <= 128 && s->shown.h <= 128) : NULL;
        u->shown_version = s->shown_version;
    }
    if (u->results_version != s->results_version) {
        make_list(a, &u->results, &u->n_results, s->n_results ? &s->results[0].img : NULL, s->n_results,
                  sizeof(gui_gen_item));
        u->results_version = s->results_version;
        u->grid_scroll = 0;
    }
    if (u->preview_version != s->preview_version) {
        make_list(a, &u->preview, &u->n_preview, s->preview, s->n_preview, sizeof(seer_image));
        u->preview_version = s->preview_version;
    }
}

void gui_free_textures(gui_app *a) {
    if (a->ui.shown) SDL_DestroyTexture(a->ui.shown);
    a->ui.shown = NULL;
    gui_free_attention_texture(a);
    free_list(&a->ui.results, &a->ui.n_results);
    free_list(&a->ui.preview, &a->ui.n_preview);
}

// ---- top bar ------------------------------------------------------------------------------

static const char *dtype_label(seer_dtype dt) { return dt == SEER_BF16 ? "bf16" : dt == SEER_F16 ? "f16" : "f32"; }

static void picker(gui_app *a, SDL_Rect r, const char *caption, const char *value, gui_popup which) {
    gui_state *s = &a->s;
    bool open = s->popup == which, hover = gui_hover(a, r);
    gui_round_border(&a->d, r, P(7), open || hover ? GUI_HOVER : GUI_RAISED, open ? GUI_ACCENT : GUI_BORDER);
    int cw = gui_text_width(&a->d, GUI_FONT_SMALL, caption);
    gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){r.x + P(10), r.y, cw, r.h}, 0, GUI_FAINT, caption);
    SDL_Rect v = {r.x + P(18) + cw, r.y, r.w - cw - P(44), r.h};
    gui_text_in(&a->d, GUI_FONT_BOLD, v, 0, value[0] ? GUI_TEXT : GUI_FAINT, value[0] ? value : "none");
    gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){r.x + r.w - P(24), r.y, P(14), r.h}, 1, GUI_DIM, "▾");
    if (hover) a->ui.want_hand = true;
    if (gui_clicked(a, r)) s->popup = open ? GUI_POPUP_NONE : which;
    if (s->popup == which) a->ui.popup_anchor = r;
}

static void top_bar(gui_app *a) {
    gui_state *s = &a->s;
    int h = P(56);
    gui_fill(&a->d, (SDL_Rect){0, 0, a->w, h}, GUI_TOPBAR);
    gui_fill(&a->d, (SDL_Rect){0, h - P(1), a->w, P(1)}, GUI_BORDER);
    int x = P(20);
    gui_round(&a->d, (SDL_Rect){x, h / 2 - P(6), P(12), P(12)}, P(6), GUI_ACCENT);
    gui_round(&a->d, (SDL_Rect){x + P(3.5f), h / 2 - P(2.5f), P(5), P(5)}, P(2.5f), GUI_TOPBAR);
    x += P(20);
    x += gui_text_in(&a->d, GUI_FONT_TITLE, (SDL_Rect){x, 0, P(80), h}, 0, GUI_TEXT, "seer") + P(28);

    // mode tabs as a segmented control
    int tw[GUI_MODE_COUNT], total = P(8);
    for (int m = 0; m < GUI_MODE_COUNT; m++) total += (tw[m] = gui_text_width(&a->d, GUI_FONT_BOLD, gui_mode_name(m)) + P(32));
    SDL_Rect seg = {x, h / 2 - P(18), total, P(36)};
    gui_round(&a->d, seg, P(9), GUI_PANEL);
    int tx = seg.x + P(4);
    for (int m = 0; m < GUI_MODE_COUNT; m++) {
        SDL_Rect t = {tx, seg.y + P(4), tw[m], seg.h - P(8)};
        bool active = s->mode == (gui_mode)m, hover = gui_hover(a, t);
        if (active) gui_round(&a->d, t, P(7), GUI_RAISED);
        else if (hover) gui_round(&a->d, t, P(7), (SDL_Color){34, 38, 46, 255});
        gui_text_in(&a->d, active ? GUI_FONT_BOLD : GUI_FONT_BODY, t, 1, active ? GUI_TEXT : GUI_DIM, gui_mode_name(m));
        if (hover) {
            a->ui.want_hand = true;
            snprintf(a->ui.hint, sizeof a->ui.hint, "%s (Ctrl+%d)", gui_mode_name(m), m + 1);
        }
        if (gui_clicked(a, t)) gui_state_set_mode(s, m);
        tx += tw[m];
    }

    // pickers, right-aligned
    int pw = P(124), mw = P(300), gap = P(10), ph = P(36), py = h / 2 - ph / 2;
    int right = a->w - P(20);
    SDL_Rect prec = {right - pw, py, pw, ph}, dev = {prec.x - gap - pw, py, pw, ph};
    SDL_Rect model = {dev.x - gap - mw, py, mw, ph};
    if (model.x < seg.x + seg.w + P(16)) {  // narrow window: the model picker gives way
        model.x = seg.x + seg.w + P(16);
        model.w = dev.x - gap - model.x;
    }
    bool gen = s->mode == GUI_MODE_GENERATE;
    const char *mv = gen ? (s->gen_sel >= 0 ? s->generators.items[s->gen_sel].label : "")
                         : (s->model_sel >= 0 ? s->classifiers.items[s->model_sel].label : "");
    if (model.w > P(120)) picker(a, model, gen ? "Generator" : "Model", mv, GUI_POPUP_MODEL);
    picker(a, dev, "Device", s->device == SEER_DEVICE_CUDA ? "CUDA" : "CPU", GUI_POPUP_DEVICE);
    picker(a, prec, "Precision", dtype_label(s->dtype), GUI_POPUP_PRECISION);
}

// ---- floating things ----------------------------------------------------------------------

static bool popup_item(gui_app *a, SDL_Rect r, const char *label, const char *detail, bool current, bool enabled) {
    bool hover = enabled && gui_in(r, a->ui.mx, a->ui.my);
    if (hover) gui_round(&a->d, gui_inset(r, P(4), P(1)), P(6), GUI_HOVER);
    if (current) gui_text_in(&a->d, GUI_FONT_BODY, (SDL_Rect){r.x + P(12), r.y, P(16), r.h}, 0, GUI_ACCENT, "✓");
    SDL_Rect lr = {r.x + P(32), r.y, r.w - P(44), r.h};
    int lw = gui_text_in(&a->d, current ? GUI_FONT_BOLD : GUI_FONT_BODY, lr, 0, enabled ? GUI_TEXT : GUI_FAINT, label);
    if (detail)
        gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){lr.x + lw + P(12), r.y, lr.w - lw - P(12), r.h}, 2, GUI_FAINT, detail);
    if (hover) a->ui.want_hand = true;
    return enabled && a->ui.released && hover && gui_in(r, a->ui.press_x, a->ui.press_y);
}

static void draw_popup(gui_app *a) {
    gui_state *s = &a->s;
    if (s->popup == GUI_POPUP_NONE) {
        a->ui.popup_rect = (SDL_Rect){0, 0, 0, 0};
        return;
    }
    bool gen = s->mode == GUI_MODE_GENERATE;
    const gui_model_list *list = gen ? &s->generators : &s->classifiers;
    int ih = P(34), n = s->popup == GUI_POPUP_MODEL ? list->count + 1 + (list->count == 0) : s->popup == GUI_POPUP_DEVICE ? 2 : 3;
    SDL_Rect anchor = a->ui.popup_anchor;
    int w = anchor.w < P(300) ? P(300) : anchor.w;
    if (s->popup == GUI_POPUP_MODEL && w < P(420)) w = P(420);
    SDL_Rect r = {anchor.x + anchor.w - w, anchor.y + anchor.h + P(6), w, n * ih + P(12)};
    if (r.x < P(8)) r.x = P(8);
    a->ui.popup_rect = r;
    gui_round_border(&a->d, (SDL_Rect){r.x, r.y + P(3), r.w, r.h}, P(10), (SDL_Color){0, 0, 0, 90}, (SDL_Color){0, 0, 0, 60});
    gui_round_border(&a->d, r, P(10), GUI_RAISED, GUI_BORDER);
    SDL_Rect it = {r.x, r.y + P(6), r.w, ih};
    if (s->popup == GUI_POPUP_MODEL) {
        int sel = gen ? s->gen_sel : s->model_sel;
        for (int i = 0; i < list->count; i++, it.y += ih)
            if (popup_item(a, it, list->items[i].label, list->items[i].detail, i == sel, true)) {
                if (gen) gui_state_select_generator(s, i);
                else gui_state_select_model(s, i);
            }
        if (list->count == 0) {
            popup_item(a, it, gen ? "No generator weights found" : "No classifier weights found",
                       "$SEER_MODELS, assets/models", false, false);
            it.y += ih;
        }
        if (popup_item(a, it, "Open weights file…", gen ? "Ctrl+O" : NULL, false, true)) gui_state_open_dialog(s);
    } else if (s->popup == GUI_POPUP_DEVICE) {
        if (popup_item(a, it, "CPU", "OpenMP + OpenBLAS", s->device == SEER_DEVICE_CPU, true))
            gui_state_set_device(s, SEER_DEVICE_CPU);
        it.y += ih;
        if (popup_item(a, it, "CUDA", s->cuda_available ? "GPU" : "not available", s->device == SEER_DEVICE_CUDA,
                       s->cuda_available))
            gui_state_set_device(s, SEER_DEVICE_CUDA);
    } else {
        const seer_dtype dts[3] = {SEER_F32, SEER_BF16, SEER_F16};
        bool cuda = s->device == SEER_DEVICE_CUDA;
        for (int i = 0; i < 3; i++, it.y += ih)
            if (popup_item(a, it, dtype_label(dts[i]), i == 0 ? "exact" : cuda ? "tensor cores" : "CUDA only",
                           s->dtype == dts[i], i == 0 || cuda))
                gui_state_set_dtype(s, dts[i]);
    }
    // a click outside closes it
    if (a->ui.pressed && !gui_in(r, a->ui.mx, a->ui.my) && !gui_in(anchor, a->ui.mx, a->ui.my))
        s->popup = GUI_POPUP_NONE;
}

static void draw_dialog(gui_app *a) {
    gui_state *s = &a->s;
    if (!s->dialog_open) return;
    bool gen = s->mode == GUI_MODE_GENERATE;
    gui_fill(&a->d, (SDL_Rect){0, 0, a->w, a->h}, (SDL_Color){5, 6, 8, 170});
    int w = a->w - P(80) < P(640) ? a->w - P(80) : P(640), fh = P(38), lh = gui_font_height(&a->d, GUI_FONT_SMALL);
    int h = P(24) + gui_font_height(&a->d, GUI_FONT_TITLE) + P(10) + P(44) + (lh + P(6) + fh + P(14)) * (gen ? 2 : 1) +
            P(14) + P(38) + P(24);
    SDL_Rect r = {(a->w - w) / 2, (a->h - h) / 2, w, h};
    gui_round_border(&a->d, r, P(12), GUI_PANEL, GUI_BORDER);
    a->ui.block = false;  // the dialog's own widgets take the input
    int x = r.x + P(24), y = r.y + P(24), iw = r.w - P(48);
    gui_text(&a->d, GUI_FONT_TITLE, x, y, GUI_TEXT, gen ? "Open generator weights" : "Open classifier weights");
    y += gui_font_height(&a->d, GUI_FONT_TITLE) + P(10);
    gui_text_wrap(&a->d, GUI_FONT_SMALL, (SDL_Rect){x, y, iw, P(44)}, 0, GUI_DIM,
                  gen ? "A seer ENAT file and the VQ tokenizer it was trained with (.safetensors)."
                      : "A seer .safetensors file with seer.arch metadata. Official checkpoints convert with "
                        "tools/convert.py.");
    y += P(44);
    gui_text(&a->d, GUI_FONT_SMALL, x, y, GUI_DIM, gen ? "Generator file" : "Weights file");
    y += lh + P(6);
    gui_text_field(a, (SDL_Rect){x, y, iw, fh}, GUI_FIELD_WEIGHTS, "/path/to/model.safetensors");
    y += fh + P(14);
    if (gen) {
        gui_text(&a->d, GUI_FONT_SMALL, x, y, GUI_DIM, "Tokenizer file");
        y += lh + P(6);
        gui_text_field(a, (SDL_Rect){x, y, iw, fh}, GUI_FIELD_TOKENIZER, "/path/to/vq-f16-jax.safetensors");
        y += fh + P(14);
    }
    y += P(14);
    SDL_Rect load = {r.x + r.w - P(24) - P(110), y, P(110), P(38)}, cancel = {load.x - P(10) - P(100), y, P(100), P(38)};
    if (gui_button(a, cancel, "Cancel", 0, true)) {
        s->dialog_open = false;
        gui_state_focus(s, GUI_FIELD_NONE);
    }
    if (gui_button(a, load, "Load", 1, s->field[GUI_FIELD_WEIGHTS].len > 0)) {
        s->dialog_open = false;
        gui_state_focus(s, GUI_FIELD_NONE);
        gui_state_push_action(s, GUI_ACT_LOAD_WEIGHTS);
    }
}

static void draw_error(gui_app *a, int bottom) {
    gui_state *s = &a->s;
    if (!s->error[0]) return;
    int w = a->w * 7 / 10, pad = P(14);
    SDL_Rect probe = {-10000, -10000, w - 2 * pad - P(30), 10000};
    int th = gui_text_wrap(&a->d, GUI_FONT_BODY, probe, 0, GUI_TEXT, s->error);
    SDL_Rect r = {(a->w - w) / 2, bottom - th - 2 * pad - P(12), w, th + 2 * pad};
    gui_round_border(&a->d, r, P(10), GUI_ERROR_BG, (SDL_Color){120, 52, 60, 255});
    gui_round(&a->d, (SDL_Rect){r.x + P(1), r.y + P(1), P(4), r.h - P(2)}, P(2), GUI_ERROR);
    gui_text_wrap(&a->d, GUI_FONT_BODY, (SDL_Rect){r.x + pad + P(4), r.y + pad, probe.w, th}, 0,
                  (SDL_Color){255, 222, 222, 255}, s->error);
    SDL_Rect x = {r.x + r.w - P(34), r.y + P(8), P(26), P(26)};
    if (gui_hover(a, x)) gui_round(&a->d, x, P(6), (SDL_Color){110, 44, 52, 255});
    gui_text_in(&a->d, GUI_FONT_BODY, x, 1, GUI_ERROR, "✕");
    if (gui_clicked(a, x) || gui_clicked(a, r)) s->error[0] = '\0';
}

// ---- status line --------------------------------------------------------------------------

static void status_bar(gui_app *a, SDL_Rect r) {
    gui_state *s = &a->s;
    gui_fill(&a->d, r, GUI_TOPBAR);
    gui_fill(&a->d, (SDL_Rect){r.x, r.y, r.w, P(1)}, GUI_BORDER);
    int x = r.x + P(14), fh = gui_font_height(&a->d, GUI_FONT_SMALL), y = r.y + (r.h - fh) / 2;
    const char *dev = s->device == SEER_DEVICE_CUDA ? "CUDA" : "CPU";
    int cw = gui_text_width(&a->d, GUI_FONT_SMALL, dev) + P(14);
    gui_round(&a->d, (SDL_Rect){x, r.y + (r.h - P(18)) / 2, cw, P(18)}, P(9), GUI_ACCENT_SOFT);
    gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){x, r.y, cw, r.h}, 1, GUI_TEXT, dev);
    x += cw + P(12);
    char buf[512], w[32], ar[32], rss[32];
    bool gen = s->mode == GUI_MODE_GENERATE;
    const char *name = gen ? s->gen_name : s->model_name;
    gui_format_bytes(s->weights_bytes, w, sizeof w);
    gui_format_bytes(s->arena_bytes, ar, sizeof ar);
    gui_format_bytes(s->rss_bytes, rss, sizeof rss);
    char lat[48] = "–";
    if (s->last_ms > 0) snprintf(lat, sizeof lat, s->last_ms < 100 ? "%.1f ms" : "%.0f ms", s->last_ms);
    snprintf(buf, sizeof buf, "%s %s   ·   last %s   ·   weights %s   ·   activations %s   ·   process %s",
             name[0] ? name : "no model", name[0] ? dtype_label(s->dtype) : "", lat,
             s->weights_bytes ? w : "–", s->arena_bytes ? ar : "–", s->rss_bytes ? rss : "–");
    int used = gui_text(&a->d, GUI_FONT_SMALL, x, y, GUI_DIM, buf);
    int rx = x + used + P(24), rw = r.x + r.w - P(14) - rx;
    if (rw < P(60)) return;
    if (s->busy) {
        char t[200];
        // "Step 3 of 8" says its own count
        if (s->progress_total > 0 && !strpbrk(s->progress_text, "0123456789"))
            snprintf(t, sizeof t, "%s  %d/%d", s->progress_text, s->progress_done, s->progress_total);
        else snprintf(t, sizeof t, "%s%s", s->progress_text, s->progress_total > 0 ? "" : "…");
        int bw = P(120), tw0 = gui_text_width(&a->d, GUI_FONT_SMALL, "Esc cancels");
        SDL_Rect bar = {r.x + r.w - P(14) - tw0 - P(12) - bw, r.y + (r.h - P(6)) / 2, bw, P(6)};
        gui_progress_bar(a, bar, s->progress_total > 0 ? (float)s->progress_done / s->progress_total : -1);
        gui_text(&a->d, GUI_FONT_SMALL, bar.x + bw + P(12), y, GUI_FAINT, "Esc cancels");
        gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){rx, r.y, bar.x - P(12) - rx, r.h}, 2, GUI_TEXT, t);
    } else {
        const char *msg = a->ui.hint[0] ? a->ui.hint : gui_state_log_line(s, 0);
        if (msg) gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){rx, r.y, rw, r.h}, 2, GUI_FAINT, msg);
    }
}

// ---- segment page -------------------------------------------------------------------------

static void draw_segment(gui_app *a, SDL_Rect c) {
    gui_card(a, c);
    gui_empty_state(a, c, "No segmentation model yet",
                    "Segmentation is not available: no segmentation model exists in seer yet. When one "
                    "ships (Semantic FPN heads over the attention backbones), this page will show the image "
                    "with its label map on top.\n\nClassify and Generate are available now.",
                    GUI_TEXT);
}

// ---- the frame ----------------------------------------------------------------------------

void gui_draw_frame(gui_app *a) {
    gui_state *s = &a->s;
    gui_draw_begin_frame(&a->d);
    gui_sync_textures(a);
    a->ui.want_hand = a->ui.want_ibeam = false;
    a->ui.hint[0] = '\0';
    // the popup or dialog drawn last frame owns the mouse when it is over it
    a->ui.block = s->dialog_open || (s->popup != GUI_POPUP_NONE && (gui_in(a->ui.popup_rect, a->ui.mx, a->ui.my) ||
                                                                     gui_in(a->ui.popup_rect, a->ui.press_x, a->ui.press_y)));
    gui_fill(&a->d, (SDL_Rect){0, 0, a->w, a->h}, GUI_BG);
    top_bar(a);
    int sh = P(30), m = P(16);
    SDL_Rect content = {m, P(56) + m, a->w - 2 * m, a->h - P(56) - sh - 2 * m};
    if (s->mode == GUI_MODE_CLASSIFY) gui_draw_classify(a, content);
    else if (s->mode == GUI_MODE_GENERATE) gui_draw_generate(a, content);
    else draw_segment(a, content);
    status_bar(a, (SDL_Rect){0, a->h - sh, a->w, sh});
    draw_error(a, a->h - sh);
    a->ui.block = false;
    draw_popup(a);
    draw_dialog(a);
}
