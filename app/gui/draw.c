// Drawing primitives and the text cache (see draw.h).
#include "app/gui/draw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const SDL_Color GUI_BG = {20, 22, 27, 255};
const SDL_Color GUI_TOPBAR = {15, 17, 21, 255};
const SDL_Color GUI_PANEL = {28, 31, 38, 255};
const SDL_Color GUI_RAISED = {36, 40, 49, 255};
const SDL_Color GUI_HOVER = {45, 50, 61, 255};
const SDL_Color GUI_BORDER = {49, 54, 66, 255};
const SDL_Color GUI_TEXT = {230, 233, 240, 255};
const SDL_Color GUI_DIM = {160, 167, 182, 255};
const SDL_Color GUI_FAINT = {108, 115, 130, 255};
const SDL_Color GUI_ACCENT = {84, 140, 255, 255};
const SDL_Color GUI_ACCENT_HI = {112, 160, 255, 255};
const SDL_Color GUI_ACCENT_SOFT = {62, 84, 130, 255};
const SDL_Color GUI_GOOD = {62, 207, 142, 255};
const SDL_Color GUI_ERROR = {255, 107, 107, 255};
const SDL_Color GUI_ERROR_BG = {64, 30, 36, 255};
const SDL_Color GUI_TRACK = {44, 49, 60, 255};

static const float font_pt[GUI_FONT_N] = {11.5f, 13.5f, 13.5f, 20.0f};

// A white disc of the given radius in pixels, its edge antialiased over one pixel.
static SDL_Texture *make_circle(SDL_Renderer *r, int radius) {
    int side = 2 * radius;
    SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(0, side, side, 32, SDL_PIXELFORMAT_ARGB8888);
    if (!s) return NULL;
    float c = (float)radius;
    for (int y = 0; y < side; y++) {
        Uint32 *row = (Uint32 *)((Uint8 *)s->pixels + y * s->pitch);
        for (int x = 0; x < side; x++) {
            float dx = x + 0.5f - c, dy = y + 0.5f - c, a = c - sqrtf(dx * dx + dy * dy) + 0.5f;
            a = a < 0 ? 0 : a > 1 ? 1 : a;
            row[x] = ((Uint32)(a * 255 + 0.5f) << 24) | 0xFFFFFFu;
        }
    }
    SDL_Texture *t = SDL_CreateTextureFromSurface(r, s);
    SDL_FreeSurface(s);
    if (t) SDL_SetTextureBlendMode(t, SDL_BLENDMODE_BLEND);
    return t;
}

// Discs are drawn 1:1 (a scaled disc loses its soft edge), so each radius in use gets its own.
static SDL_Texture *circle(gui_draw *d, int radius) {
    for (int i = 0; i < GUI_CIRCLES; i++)
        if (d->circles[i].tex && d->circles[i].radius == radius) return d->circles[i].tex;
    int slot = (int)(d->next_circle++ % GUI_CIRCLES);
    if (d->circles[slot].tex) SDL_DestroyTexture(d->circles[slot].tex);
    d->circles[slot].radius = radius;
    d->circles[slot].tex = make_circle(d->r, radius);
    return d->circles[slot].tex;
}

static void cache_clear(gui_draw *d) {
    for (int i = 0; i < GUI_TEXT_CACHE; i++) {
        if (d->cache[i].tex) SDL_DestroyTexture(d->cache[i].tex);
        free(d->cache[i].str);
    }
    memset(d->cache, 0, sizeof d->cache);
}

static void close_fonts(gui_draw *d) {
    for (int i = 0; i < GUI_FONT_N; i++) {
        if (d->font[i]) TTF_CloseFont(d->font[i]);
        d->font[i] = NULL;
    }
}

static bool open_fonts(gui_draw *d, char *err, size_t n) {
    close_fonts(d);
    for (int i = 0; i < GUI_FONT_N; i++) {
        bool bold = i == GUI_FONT_BOLD || i == GUI_FONT_TITLE;
        const char *path = bold && d->bold_path[0] ? d->bold_path : d->font_path;
        int size = (int)(font_pt[i] * d->scale + 0.5f);
        d->font[i] = TTF_OpenFont(path, size < 6 ? 6 : size);
        if (!d->font[i]) {
            if (err) snprintf(err, n, "cannot open the font %s: %s", path, TTF_GetError());
            close_fonts(d);
            return false;
        }
        // without a bold face file, let FreeType embolden the regular one
        if (bold && !d->bold_path[0]) TTF_SetFontStyle(d->font[i], TTF_STYLE_BOLD);
        TTF_SetFontHinting(d->font[i], TTF_HINTING_LIGHT);
    }
    return true;
}

bool gui_draw_init(gui_draw *d, SDL_Renderer *r, float scale, const char *font_path, const char *bold_path,
                   char *err, size_t n) {
    memset(d, 0, sizeof *d);
    d->r = r;
    d->scale = scale;
    snprintf(d->font_path, sizeof d->font_path, "%s", font_path);
    snprintf(d->bold_path, sizeof d->bold_path, "%s", bold_path ? bold_path : "");
    if (!open_fonts(d, err, n)) return false;
    SDL_SetRenderDrawBlendMode(r, SDL_BLENDMODE_BLEND);
    return true;
}

bool gui_draw_set_scale(gui_draw *d, float scale) {
    if (fabsf(scale - d->scale) < 0.01f) return true;
    d->scale = scale;
    cache_clear(d);
    return open_fonts(d, NULL, 0);
}

void gui_draw_free(gui_draw *d) {
    cache_clear(d);
    close_fonts(d);
    for (int i = 0; i < GUI_CIRCLES; i++)
        if (d->circles[i].tex) SDL_DestroyTexture(d->circles[i].tex);
    memset(d->circles, 0, sizeof d->circles);
}

void gui_draw_begin_frame(gui_draw *d) { d->frame++; }

// ---- shapes -------------------------------------------------------------------------------

void gui_fill(gui_draw *d, SDL_Rect r, SDL_Color c) {
    if (r.w <= 0 || r.h <= 0) return;
    SDL_SetRenderDrawColor(d->r, c.r, c.g, c.b, c.a);
    SDL_RenderFillRect(d->r, &r);
}

void gui_round(gui_draw *d, SDL_Rect r, int radius, SDL_Color c) {
    if (r.w <= 0 || r.h <= 0) return;
    if (radius > r.w / 2) radius = r.w / 2;
    if (radius > r.h / 2) radius = r.h / 2;
    SDL_Texture *disc = radius >= 2 ? circle(d, radius) : NULL;
    if (!disc) return gui_fill(d, r, c);
    // four quarter discs, then the cross between them
    SDL_SetTextureColorMod(disc, c.r, c.g, c.b);
    SDL_SetTextureAlphaMod(disc, c.a);
    int q = radius;
    SDL_Rect src[4] = {{0, 0, q, q}, {q, 0, q, q}, {0, q, q, q}, {q, q, q, q}};
    SDL_Rect dst[4] = {{r.x, r.y, q, q}, {r.x + r.w - q, r.y, q, q}, {r.x, r.y + r.h - q, q, q},
                       {r.x + r.w - q, r.y + r.h - q, q, q}};
    for (int i = 0; i < 4; i++) SDL_RenderCopy(d->r, disc, &src[i], &dst[i]);
    gui_fill(d, (SDL_Rect){r.x + q, r.y, r.w - 2 * q, r.h}, c);
    gui_fill(d, (SDL_Rect){r.x, r.y + q, q, r.h - 2 * q}, c);
    gui_fill(d, (SDL_Rect){r.x + r.w - q, r.y + q, q, r.h - 2 * q}, c);
}

void gui_round_border(gui_draw *d, SDL_Rect r, int radius, SDL_Color fill, SDL_Color border) {
    int t = gui_px(d, 1);
    gui_round(d, r, radius, border);
    gui_round(d, gui_inset(r, t, t), radius - t, fill);
}

// ---- text ---------------------------------------------------------------------------------

static uint32_t hash_str(const char *s, int font, SDL_Color c) {
    uint32_t h = 2166136261u ^ (uint32_t)font ^ ((uint32_t)c.r << 8) ^ ((uint32_t)c.g << 16) ^ ((uint32_t)c.b << 24);
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h ^ c.a;
}

// The cached texture of s in font f, colour c (rendered on first use; the least recently used
// entry makes room).
static gui_text_entry *text_entry(gui_draw *d, gui_font f, SDL_Color c, const char *s) {
    uint32_t h = hash_str(s, f, c);
    int victim = 0;
    for (int i = 0; i < GUI_TEXT_CACHE; i++) {
        gui_text_entry *e = &d->cache[i];
        if (e->str && e->hash == h && e->font == (int)f && memcmp(&e->color, &c, sizeof c) == 0 &&
            strcmp(e->str, s) == 0) {
            e->last_used = d->frame;
            return e;
        }
        if (!e->str) victim = i;
        else if (d->cache[victim].str && e->last_used < d->cache[victim].last_used) victim = i;
    }
    SDL_Surface *surf = TTF_RenderUTF8_Blended(d->font[f], s, c);
    if (!surf) return NULL;
    SDL_Texture *t = SDL_CreateTextureFromSurface(d->r, surf);
    int w = surf->w, hh = surf->h;
    SDL_FreeSurface(surf);
    if (!t) return NULL;
    gui_text_entry *e = &d->cache[victim];
    if (e->tex) SDL_DestroyTexture(e->tex);
    free(e->str);
    *e = (gui_text_entry){.hash = h, .font = f, .color = c, .str = strdup(s), .tex = t, .w = w, .h = hh,
                          .last_used = d->frame};
    if (!e->str) {
        SDL_DestroyTexture(t);
        memset(e, 0, sizeof *e);
        return NULL;
    }
    return e;
}

int gui_font_height(gui_draw *d, gui_font f) { return TTF_FontHeight(d->font[f]); }

int gui_text_width(gui_draw *d, gui_font f, const char *s) {
    int w = 0;
    if (*s) TTF_SizeUTF8(d->font[f], s, &w, NULL);
    return w;
}

int gui_text(gui_draw *d, gui_font f, int x, int y, SDL_Color c, const char *s) {
    if (!s || !*s) return 0;
    gui_text_entry *e = text_entry(d, f, c, s);
    if (!e) return 0;
    SDL_Rect dst = {x, y, e->w, e->h};
    SDL_RenderCopy(d->r, e->tex, NULL, &dst);
    return e->w;
}

static int utf8_prev(const char *s, int i) {
    if (i <= 0) return 0;
    i--;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    return i;
}

// s cut to fit max_w with "…": at the end, or in the middle for paths (their file name matters).
static void ellipsize(gui_draw *d, gui_font f, const char *s, int max_w, char *out, size_t n) {
    snprintf(out, n, "%s", s);
    if (gui_text_width(d, f, out) <= max_w) return;
    int len = (int)strlen(s);
    bool middle = strchr(s, '/') != NULL;
    char tmp[2048];
    if (middle) {
        int keep_l = len / 2, keep_r = len / 2;
        while (keep_l > 0 || keep_r > 0) {
            if (keep_l >= keep_r) keep_l = utf8_prev(s, keep_l);
            else keep_r--;
            int r0 = len - keep_r;
            while (r0 < len && ((unsigned char)s[r0] & 0xC0) == 0x80) r0++;
            snprintf(tmp, sizeof tmp, "%.*s…%s", keep_l, s, s + r0);
            if (gui_text_width(d, f, tmp) <= max_w) break;
        }
    } else {
        int keep = len;
        do {
            keep = utf8_prev(s, keep);
            snprintf(tmp, sizeof tmp, "%.*s…", keep, s);
        } while (keep > 0 && gui_text_width(d, f, tmp) > max_w);
    }
    snprintf(out, n, "%s", tmp);
}

int gui_text_in(gui_draw *d, gui_font f, SDL_Rect r, int align, SDL_Color c, const char *s) {
    if (!s || !*s || r.w <= 0) return 0;
    char buf[2048];
    ellipsize(d, f, s, r.w, buf, sizeof buf);
    int w = gui_text_width(d, f, buf), h = gui_font_height(d, f);
    int x = align == 0 ? r.x : align == 1 ? r.x + (r.w - w) / 2 : r.x + r.w - w;
    return gui_text(d, f, x, r.y + (r.h - h) / 2, c, buf);
}

int gui_text_wrap(gui_draw *d, gui_font f, SDL_Rect r, int align, SDL_Color c, const char *s) {
    int lh = gui_font_height(d, f), y = r.y;
    const char *p = s;
    char line[2048];
    while (*p) {
        // take words while they fit; a newline ends the line
        int take = 0, best = 0;
        for (;;) {
            int end = take;
            while (p[end] == ' ') end++;
            while (p[end] && p[end] != ' ' && p[end] != '\n') end++;
            snprintf(line, sizeof line, "%.*s", end, p);
            if (best > 0 && gui_text_width(d, f, line) > r.w) break;
            best = take = end;
            if (!p[end] || p[end] == '\n') break;
        }
        snprintf(line, sizeof line, "%.*s", best, p);
        int w = gui_text_width(d, f, line);
        int x = align == 0 ? r.x : align == 1 ? r.x + (r.w - w) / 2 : r.x + r.w - w;
        gui_text(d, f, x, y, c, line);
        y += lh + lh / 5;
        p += best;
        if (*p == '\n') p++;
        while (*p == ' ') p++;
    }
    return y - r.y;
}

// ---- images -------------------------------------------------------------------------------

SDL_Texture *gui_image_texture(gui_draw *d, const seer_image *img, bool pixelated) {
    if (!img->px || img->w <= 0 || img->h <= 0) return NULL;
    Uint32 fmt = img->c == 4 ? SDL_PIXELFORMAT_RGBA32 : img->c == 1 ? SDL_PIXELFORMAT_INDEX8 : SDL_PIXELFORMAT_RGB24;
    if (img->c == 1) return NULL;  // decoded images are RGB; gray never reaches here
    SDL_Texture *t = SDL_CreateTexture(d->r, fmt, SDL_TEXTUREACCESS_STATIC, img->w, img->h);
    if (!t) return NULL;
    SDL_UpdateTexture(t, NULL, img->px, img->w * img->c);
    SDL_SetTextureScaleMode(t, pixelated ? SDL_ScaleModeNearest : SDL_ScaleModeLinear);
    return t;
}

SDL_Rect gui_fit_rect(int w, int h, SDL_Rect box) {
    if (w <= 0 || h <= 0) return box;
    double s = fmin((double)box.w / w, (double)box.h / h);
    int rw = (int)(w * s + 0.5), rh = (int)(h * s + 0.5);
    return (SDL_Rect){box.x + (box.w - rw) / 2, box.y + (box.h - rh) / 2, rw, rh};
}
