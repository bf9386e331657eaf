// Drawing for the app: the theme, fonts (SDL2_ttf) with a text-texture cache, antialiased
// rounded rectangles, and images as textures. Sizes given in points are multiplied by the
// display scale (HiDPI); everything else is in pixels.
#ifndef GUI_DRAW_H
#define GUI_DRAW_H

#include <SDL.h>
#include <SDL_ttf.h>
#include <stdbool.h>

#include "core/image.h"

typedef enum gui_font {
    GUI_FONT_SMALL = 0,  // captions, section headers
    GUI_FONT_BODY,
    GUI_FONT_BOLD,
    GUI_FONT_TITLE,      // wordmark, empty-state headlines
    GUI_FONT_N
} gui_font;

// The theme: a dark, low-contrast background with one accent colour.
extern const SDL_Color GUI_BG, GUI_TOPBAR, GUI_PANEL, GUI_RAISED, GUI_HOVER, GUI_BORDER, GUI_TEXT,
    GUI_DIM, GUI_FAINT, GUI_ACCENT, GUI_ACCENT_HI, GUI_ACCENT_SOFT, GUI_GOOD, GUI_ERROR, GUI_ERROR_BG,
    GUI_TRACK;

#define GUI_TEXT_CACHE 768
#define GUI_CIRCLES 12

typedef struct gui_text_entry {
    uint32_t hash;
    int font;
    SDL_Color color;
    char *str;
    SDL_Texture *tex;
    int w, h;
    unsigned last_used;
} gui_text_entry;

typedef struct gui_draw {
    SDL_Renderer *r;
    float scale;  // pixels per point
    char font_path[1024], bold_path[1024];
    TTF_Font *font[GUI_FONT_N];
    struct {
        int radius;
        SDL_Texture *tex;
    } circles[GUI_CIRCLES];  // discs for rounded corners, by radius in pixels
    unsigned next_circle;
    gui_text_entry cache[GUI_TEXT_CACHE];
    unsigned frame;
} gui_draw;

// Opens the fonts at `scale`; false with a message (the font path and what failed).
bool gui_draw_init(gui_draw *d, SDL_Renderer *r, float scale, const char *font_path, const char *bold_path,
                   char *err, size_t n);
bool gui_draw_set_scale(gui_draw *d, float scale);  // reopens the fonts when the scale changes
void gui_draw_free(gui_draw *d);
void gui_draw_begin_frame(gui_draw *d);

static inline int gui_px(const gui_draw *d, float pt) { return (int)(pt * d->scale + 0.5f); }

void gui_fill(gui_draw *d, SDL_Rect r, SDL_Color c);
void gui_round(gui_draw *d, SDL_Rect r, int radius, SDL_Color c);
// A rounded rectangle with a 1-point border.
void gui_round_border(gui_draw *d, SDL_Rect r, int radius, SDL_Color fill, SDL_Color border);

int gui_font_height(gui_draw *d, gui_font f);
int gui_text_width(gui_draw *d, gui_font f, const char *s);
// Draws s with its top-left at (x, y); returns the width drawn.
int gui_text(gui_draw *d, gui_font f, int x, int y, SDL_Color c, const char *s);
// Vertically centred in r, left-aligned (align 0), centred (1) or right-aligned (2), cut with
// an ellipsis to fit r's width (paths lose their middle, other text its end).
int gui_text_in(gui_draw *d, gui_font f, SDL_Rect r, int align, SDL_Color c, const char *s);
// Word-wrapped into r from its top; returns the height used.
int gui_text_wrap(gui_draw *d, gui_font f, SDL_Rect r, int align, SDL_Color c, const char *s);

// A texture of an RGB image (NULL + SDL error on failure); nearest-neighbour scaling when it
// will be shown much larger than it is (CIFAR's 32x32), linear otherwise.
SDL_Texture *gui_image_texture(gui_draw *d, const seer_image *img, bool pixelated);
// The largest rect of the image's aspect that fits in `box`, centred.
SDL_Rect gui_fit_rect(int w, int h, SDL_Rect box);

static inline bool gui_in(SDL_Rect r, int x, int y) { return x >= r.x && y >= r.y && x < r.x + r.w && y < r.y + r.h; }
static inline SDL_Rect gui_inset(SDL_Rect r, int dx, int dy) { return (SDL_Rect){r.x + dx, r.y + dy, r.w - 2 * dx, r.h - 2 * dy}; }

#endif
