// The Classify page: path field and file stepping, the image, the top-5 with probability
// bars, the attention-view toggle and the model card.
#include <stdio.h>
#include <string.h>

#include "app/gui/ui.h"

#define P(x) gui_px(&a->d, (x))

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void toolbar(gui_app *a, SDL_Rect r) {
    gui_state *s = &a->s;
    int bw = P(92), nav = P(210), gap = P(10);
    SDL_Rect field = {r.x, r.y, r.w - bw - nav - 2 * gap, r.h};
    gui_text_field(a, field, GUI_FIELD_PATH, "Image or folder path — or drop files here (Ctrl+O)");
    if (gui_button(a, (SDL_Rect){field.x + field.w + gap, r.y, bw, r.h}, "Open", 1, s->field[GUI_FIELD_PATH].len > 0)) {
        gui_state_focus(s, GUI_FIELD_NONE);
        gui_state_push_action(s, GUI_ACT_OPEN_PATH);
    }
    SDL_Rect nr = {r.x + r.w - nav, r.y, nav, r.h};
    gui_round_border(&a->d, nr, P(7), GUI_PANEL, GUI_BORDER);
    SDL_Rect prev = {nr.x + P(3), nr.y + P(3), P(34), nr.h - P(6)}, next = {nr.x + nr.w - P(37), prev.y, P(34), prev.h};
    bool many = s->n_files > 1;
    if (gui_button(a, prev, "‹", 2, many)) gui_state_step_file(s, -1);
    if (gui_button(a, next, "›", 2, many)) gui_state_step_file(s, +1);
    char pos[64];
    if (s->n_files) snprintf(pos, sizeof pos, "%d / %d", s->file_index + 1, s->n_files);
    else snprintf(pos, sizeof pos, "no files");
    gui_text_in(&a->d, GUI_FONT_BODY, (SDL_Rect){prev.x + prev.w, nr.y, next.x - prev.x - prev.w, nr.h}, 1,
                s->n_files ? GUI_TEXT : GUI_FAINT, pos);
    if (gui_hover(a, nr)) snprintf(a->ui.hint, sizeof a->ui.hint, "← → step through the folder · Home/End first/last");
}

// Where the model looks when its preset crops: the rest of the image is dimmed and the input
// region outlined, so a CIFAR model's 32x32 centre of a photo is not mistaken for the photo.
static void input_overlay(gui_app *a, SDL_Rect img) {
    const float *c = a->s.shown_crop;
    if (!a->s.classified || c[2] <= 0 || (c[0] <= 0.005f && c[1] <= 0.005f && c[2] >= 0.99f && c[3] >= 0.99f)) return;
    int x0 = img.x + (int)(c[0] * img.w), y0 = img.y + (int)(c[1] * img.h);
    int x1 = img.x + (int)((c[0] + c[2]) * img.w), y1 = img.y + (int)((c[1] + c[3]) * img.h);
    x0 = x0 < img.x ? img.x : x0, y0 = y0 < img.y ? img.y : y0;
    x1 = x1 > img.x + img.w ? img.x + img.w : x1, y1 = y1 > img.y + img.h ? img.y + img.h : y1;
    SDL_Color dim = {10, 11, 14, 165};
    gui_fill(&a->d, (SDL_Rect){img.x, img.y, img.w, y0 - img.y}, dim);
    gui_fill(&a->d, (SDL_Rect){img.x, y1, img.w, img.y + img.h - y1}, dim);
    gui_fill(&a->d, (SDL_Rect){img.x, y0, x0 - img.x, y1 - y0}, dim);
    gui_fill(&a->d, (SDL_Rect){x1, y0, img.x + img.w - x1, y1 - y0}, dim);
    int t = P(2) > 1 ? P(2) : 1;
    SDL_Color line = GUI_ACCENT_HI;
    gui_fill(&a->d, (SDL_Rect){x0, y0, x1 - x0, t}, line);
    gui_fill(&a->d, (SDL_Rect){x0, y1 - t, x1 - x0, t}, line);
    gui_fill(&a->d, (SDL_Rect){x0, y0, t, y1 - y0}, line);
    gui_fill(&a->d, (SDL_Rect){x1 - t, y0, t, y1 - y0}, line);
    const char *label = "model input";
    int lw = gui_text_width(&a->d, GUI_FONT_SMALL, label) + P(14), lh = P(20);
    SDL_Rect pill = {x0, y0 - lh - P(4) >= img.y ? y0 - lh - P(4) : y1 + P(4), lw, lh};
    gui_round(&a->d, pill, P(10), (SDL_Color){15, 17, 21, 225});
    gui_text_in(&a->d, GUI_FONT_SMALL, pill, 1, GUI_ACCENT_HI, label);
}

static void image_card(gui_app *a, SDL_Rect r) {
    gui_state *s = &a->s;
    gui_card(a, r);
    bool working = s->busy && s->running.kind == GUI_JOB_CLASSIFY;
    if (s->shown_error[0]) {
        char title[sizeof s->shown_path + 16];
        snprintf(title, sizeof title, "Cannot open %s", base_name(s->shown_path));
        gui_empty_state(a, r, title, s->shown_error, GUI_ERROR);
    } else if (a->ui.shown) {
        int cap = P(48);
        SDL_Rect box = {r.x + P(20), r.y + P(20), r.w - P(40), r.h - P(20) - cap};
        SDL_Rect img = gui_fit_rect(s->shown.w, s->shown.h, box);
        SDL_RenderCopy(a->ren, a->ui.shown, NULL, &img);
        gui_draw_attention(a, img);
        input_overlay(a, img);
        // caption: file name, then size and position
        SDL_Rect cr = {r.x + P(20), r.y + r.h - cap, r.w - P(40), cap - P(8)};
        int iw = gui_text_width(&a->d, GUI_FONT_SMALL, s->shown_info);
        gui_text_in(&a->d, GUI_FONT_BOLD, (SDL_Rect){cr.x, cr.y, cr.w - iw - P(16), cr.h}, 0, GUI_TEXT, base_name(s->shown_path));
        gui_text_in(&a->d, GUI_FONT_SMALL, cr, 2, GUI_DIM, s->shown_info);
    } else if (!working) {
        gui_empty_state(a, r, "Open an image to classify",
                        "Drop an image or a folder onto the window, or type its path above and press Enter. "
                        "The arrow keys step through the images of a folder.",
                        GUI_TEXT);
    }
    if (working) {
        const char *t = s->progress_text[0] ? s->progress_text : "Working";
        int tw = gui_text_width(&a->d, GUI_FONT_SMALL, t) + P(90);
        SDL_Rect pill = {r.x + r.w - tw - P(14), r.y + P(14), tw, P(26)};
        gui_round(&a->d, pill, P(13), (SDL_Color){15, 17, 21, 230});
        gui_text(&a->d, GUI_FONT_SMALL, pill.x + P(12), pill.y + (pill.h - gui_font_height(&a->d, GUI_FONT_SMALL)) / 2, GUI_TEXT, t);
        gui_progress_bar(a, (SDL_Rect){pill.x + pill.w - P(64), pill.y + P(10), P(50), P(6)}, -1);
    }
}

static int predictions(gui_app *a, int x, int y, int w) {
    gui_state *s = &a->s;
    y = gui_section(a, x, y, w, "PREDICTIONS", s->classified ? "top-5" : NULL);
    int bh = gui_font_height(&a->d, GUI_FONT_BODY);
    if (!s->classified) {
        const char *title, *body;
        if (!s->model_loaded && s->classifiers.count == 0) {
            title = "No classifier weights found";
            body = "Looked in $SEER_MODELS and assets/models for the registry's models. Open a .safetensors "
                   "file from the Model menu, or drop one on the window.";
        } else if (!s->model_loaded) {
            title = s->busy && s->running.kind == GUI_JOB_LOAD_MODEL ? "Loading the model…" : "No classifier loaded";
            body = "Pick a model in the top bar.";
        } else if (s->shown_error[0]) {
            title = "Nothing to classify";
            body = "This file could not be decoded; the message is on the left.";
        } else {
            title = "Waiting for an image";
            body = "Open an image to see its five most likely classes.";
        }
        gui_text(&a->d, GUI_FONT_BOLD, x, y, GUI_TEXT, title);
        y += bh + P(6);
        y += gui_text_wrap(&a->d, GUI_FONT_SMALL, (SDL_Rect){x, y, w, P(60)}, 0, GUI_DIM, body);
        return y + P(10);
    }
    for (int i = 0; i < s->k; i++) {
        char pct[32];
        float p = s->top_prob[i] * 100;
        if (p >= 0.05f) snprintf(pct, sizeof pct, p >= 9.95f ? "%.0f%%" : "%.1f%%", p);
        else snprintf(pct, sizeof pct, "<0.1%%");
        gui_font f = i == 0 ? GUI_FONT_BOLD : GUI_FONT_BODY;
        int pw = gui_text_width(&a->d, f, pct);
        char label[128];
        gui_copy(label, sizeof label, s->top_label[i]);
        gui_text_in(&a->d, f, (SDL_Rect){x, y, w - pw - P(12), bh}, 0, i == 0 ? GUI_TEXT : GUI_DIM, label);
        gui_text(&a->d, f, x + w - pw, y, i == 0 ? GUI_TEXT : GUI_DIM, pct);
        y += bh + P(6);
        SDL_Rect track = {x, y, w, P(6)};
        gui_round(&a->d, track, P(3), GUI_TRACK);
        int fw = (int)(w * s->top_prob[i] + 0.5f);
        if (fw > 0) gui_round(&a->d, (SDL_Rect){x, y, fw < P(6) ? P(6) : fw, P(6)}, P(3), i == 0 ? GUI_ACCENT : GUI_ACCENT_SOFT);
        y += P(6) + P(14);
    }
    return y;
}

static void side_panel(gui_app *a, SDL_Rect r) {
    gui_state *s = &a->s;
    gui_card(a, r);
    int x = r.x + P(20), w = r.w - P(40), y = r.y + P(20);
    y = predictions(a, x, y, w);
    gui_fill(&a->d, (SDL_Rect){x, y, w, P(1)}, GUI_BORDER);
    y += P(16);

    // the attention view (ui_attention.c draws it over the image)
    SDL_Rect sw = {x + w - P(40), y - P(2), P(40), P(22)};
    gui_text(&a->d, GUI_FONT_SMALL, x, y + P(2), GUI_FAINT, "ATTENTION VIEW");
    if (gui_switch(a, sw, s->attention_on)) gui_state_set_attention(s, !s->attention_on);
    y += P(30);
    char t[320];
    if (!s->attention_on) snprintf(t, sizeof t, "Overlay where the model looks, for models that expose an attention map.");
    else if (!s->has_attention) snprintf(t, sizeof t, "no attention view for this model");
    else if (!s->attn) snprintf(t, sizeof t, "%s", s->attn_error[0] ? s->attn_error : "Computing the map…");
    else snprintf(t, sizeof t, "Showing the %s.%s", s->attn_method,
                  s->attn_uses_query ? " Click a patch of the image to see it from that query." : "");
    y += gui_text_wrap(&a->d, s->attention_on ? GUI_FONT_BODY : GUI_FONT_SMALL, (SDL_Rect){x, y, w, P(60)}, 0,
                       s->attention_on ? GUI_TEXT : GUI_DIM, t);
    if (s->attention_on && s->attn && s->attn_uses_query && s->attn_qx >= 0) {
        y += P(6);
        if (gui_button(a, (SDL_Rect){x, y, P(150), P(28)}, "Clear the query", 0, !s->busy))
            gui_state_attention_query(s, -1, -1);
        y += P(28);
    }
    y += P(12);
    gui_fill(&a->d, (SDL_Rect){x, y, w, P(1)}, GUI_BORDER);
    y += P(16);

    y = gui_section(a, x, y, w, "MODEL", NULL);
    if (!s->model_loaded) {
        gui_text(&a->d, GUI_FONT_BODY, x, y, GUI_FAINT, "none loaded");
        return;
    }
    gui_text_in(&a->d, GUI_FONT_BOLD, (SDL_Rect){x, y, w, gui_font_height(&a->d, GUI_FONT_BOLD)}, 0, GUI_TEXT, s->model_name);
    y += gui_font_height(&a->d, GUI_FONT_BOLD) + P(4);
    y += gui_text_wrap(&a->d, GUI_FONT_SMALL, (SDL_Rect){x, y, w, P(40)}, 0, GUI_DIM, s->model_info) + P(2);
    if (s->model_sel >= 0) {
        int sh = gui_font_height(&a->d, GUI_FONT_SMALL);
        gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){x, y, w, sh}, 0, GUI_FAINT, s->classifiers.items[s->model_sel].path);
        y += sh + P(6);
    }
    if (s->last_ms > 0 && y + P(60) < r.y + r.h) {
        char lat[96];
        snprintf(lat, sizeof lat, s->last_ms < 10 ? "%.2f ms" : "%.0f ms", s->last_ms);
        y += P(10);
        gui_text(&a->d, GUI_FONT_TITLE, x, y, GUI_TEXT, lat);
        y += gui_font_height(&a->d, GUI_FONT_TITLE) + P(2);
        gui_text_in(&a->d, GUI_FONT_SMALL, (SDL_Rect){x, y, w, gui_font_height(&a->d, GUI_FONT_SMALL)}, 0, GUI_DIM,
                    "per image: decode, preprocess, forward pass");
    }
}

void gui_draw_classify(gui_app *a, SDL_Rect c) {
    int th = P(38), gap = P(14);
    toolbar(a, (SDL_Rect){c.x, c.y, c.w, th});
    int pw = c.w < P(1000) ? P(310) : P(360);
    SDL_Rect main = {c.x, c.y + th + gap, c.w - pw - gap, c.h - th - gap};
    image_card(a, main);
    side_panel(a, (SDL_Rect){main.x + main.w + gap, main.y, pw, main.h});
}
