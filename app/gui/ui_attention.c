// The attention view on the Classify page: the model's map (vision/attention.h) drawn as a
// colour overlay on the part of the image the model sees, a click there picking the query
// patch for models whose map depends on one, and the picked patch outlined.
#include <stdio.h>
#include <stdlib.h>

#include "app/gui/ui.h"
#include "vision/attention.h"

#define P(x) gui_px(&a->d, (x))

// The model's input region of the image drawn at `img` (the whole image when unknown).
SDL_Rect gui_input_rect(const gui_app *a, SDL_Rect img) {
    const float *c = a->s.shown_crop;
    if (c[2] <= 0) return img;
    int x0 = img.x + (int)(c[0] * img.w), y0 = img.y + (int)(c[1] * img.h);
    int x1 = img.x + (int)((c[0] + c[2]) * img.w), y1 = img.y + (int)((c[1] + c[3]) * img.h);
    return (SDL_Rect){x0, y0, x1 - x0, y1 - y0};
}

static SDL_Texture *texture(gui_app *a) {
    gui_state *s = &a->s;
    if (a->ui.attn && a->ui.attn_version == s->attn_version) return a->ui.attn;
    if (a->ui.attn) SDL_DestroyTexture(a->ui.attn);
    a->ui.attn = NULL;
    a->ui.attn_version = s->attn_version;
    if (!s->attn || s->attn_h < 1 || s->attn_w < 1) return NULL;
    Uint8 *px = malloc((size_t)s->attn_h * (size_t)s->attn_w * 4);
    if (!px) return NULL;
    for (int i = 0; i < s->attn_h * s->attn_w; i++) seer_attention_colour(s->attn[i], px + 4 * i);
    SDL_Texture *t = SDL_CreateTexture(a->ren, SDL_PIXELFORMAT_RGBA32, SDL_TEXTUREACCESS_STATIC, s->attn_w, s->attn_h);
    if (t) {
        SDL_UpdateTexture(t, NULL, px, s->attn_w * 4);
        SDL_SetTextureBlendMode(t, SDL_BLENDMODE_BLEND);
        // smooth between token centres: a map of 8x8 tokens over a photo reads as a heat map
        SDL_SetTextureScaleMode(t, SDL_ScaleModeLinear);
    }
    free(px);
    return a->ui.attn = t;
}

void gui_free_attention_texture(gui_app *a) {
    if (a->ui.attn) SDL_DestroyTexture(a->ui.attn);
    a->ui.attn = NULL;
}

static void pill(gui_app *a, int x, int y, const char *t, SDL_Color fg) {
    int tw = gui_text_width(&a->d, GUI_FONT_SMALL, t) + P(20);
    SDL_Rect r = {x, y, tw, P(24)};
    gui_round(&a->d, r, P(12), (SDL_Color){15, 17, 21, 220});
    gui_text_in(&a->d, GUI_FONT_SMALL, r, 1, fg, t);
}

void gui_draw_attention(gui_app *a, SDL_Rect img) {
    gui_state *s = &a->s;
    if (!s->attention_on || !s->classified) return;
    if (!s->has_attention) return pill(a, img.x + P(10), img.y + P(10), "no attention view for this model", GUI_TEXT);
    if (!s->attn) {
        const char *why = s->attn_error[0] ? s->attn_error : s->busy ? "computing the attention map…" : "no map yet";
        return pill(a, img.x + P(10), img.y + P(10), why, s->attn_error[0] ? GUI_ERROR : GUI_TEXT);
    }
    SDL_Rect in = gui_input_rect(a, img);
    SDL_Texture *t = texture(a);
    if (t) SDL_RenderCopy(a->ren, t, NULL, &in);
    if (s->attn_uses_query && s->attn_qx >= 0) {
        // the picked patch: its cell of the map's grid
        int cx = (int)(s->attn_qx * s->attn_w), cy = (int)(s->attn_qy * s->attn_h);
        cx = cx < s->attn_w ? cx : s->attn_w - 1, cy = cy < s->attn_h ? cy : s->attn_h - 1;
        int x0 = in.x + in.w * cx / s->attn_w, x1 = in.x + in.w * (cx + 1) / s->attn_w;
        int y0 = in.y + in.h * cy / s->attn_h, y1 = in.y + in.h * (cy + 1) / s->attn_h;
        int th = P(2) > 1 ? P(2) : 1;
        SDL_Color c = {255, 255, 255, 255};
        gui_fill(&a->d, (SDL_Rect){x0, y0, x1 - x0, th}, c);
        gui_fill(&a->d, (SDL_Rect){x0, y1 - th, x1 - x0, th}, c);
        gui_fill(&a->d, (SDL_Rect){x0, y0, th, y1 - y0}, c);
        gui_fill(&a->d, (SDL_Rect){x1 - th, y0, th, y1 - y0}, c);
    }
    if (s->attn_uses_query) {
        if (gui_hover(a, in)) {
            a->ui.want_hand = true;
            snprintf(a->ui.hint, sizeof a->ui.hint, "click a patch: the attention view from that query");
        }
        if (gui_clicked(a, in) && in.w > 0 && in.h > 0)
            gui_state_attention_query(s, (float)(a->ui.mx - in.x) / (float)in.w, (float)(a->ui.my - in.y) / (float)in.h);
    }
    char label[128];
    snprintf(label, sizeof label, "%s · %d×%d%s", s->attn_method, s->attn_w, s->attn_h,
             s->attn_uses_query && s->attn_qx >= 0 ? " · from the picked patch" : "");
    pill(a, img.x + P(10), img.y + P(10), label, GUI_TEXT);
}
