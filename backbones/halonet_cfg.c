// HaloNet family configs as strings: each preset is timm's ByoModelCfg written out, and a
// weights file may carry its own (metadata seer.halonet_cfg, read on top of the preset), which
// is how the golden fixtures describe their tiny networks. Grammar (space-separated keys):
//
//   stem=tiered|3x3|7x7:<chs>[:max]    stem_type, stem_chs, stem_pool='maxpool' (else '')
//   act=relu|silu                      act_layer
//   attn=none|se[:<rd_ratio>]|eca      attn_layer of the bottleneck blocks (SE default 1/16)
//   down=conv1x1|none                  downsample ('none' is timm's '')
//   features=<n>                       num_features (final 1x1 conv), 0 = none
//   bottle_in=0|1 linear_out=0|1       block_kwargs
//   img=<n>                            img_size (needed by bottleneck attention)
//   sa=<self-attn>                     self_attn_layer + kwargs of the model:
//        halo:<block_size>:<halo_size>:<num_heads>:<dim_head>:<qk_ratio>   (dim_head 0 = None)
//        bot:<num_heads>:<dim_head>:<qk_ratio>
//   stages=<stage>,<stage>,...         blocks; a stage is <types>/<c>/<s>/<gs>/<br>[/<self-attn>]
//        with one letter per block in <types> (B = bottle, S = self_attn), so timm's
//        interleave_blocks(('bottle', 'self_attn'), d=4, every=1) is BSBS.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbones/halonet.h"

int seer_halonet_make_divisible(double v, int divisor, double round_limit) {
    int new_v = (int)(v + divisor / 2.0) / divisor * divisor;
    if (new_v < divisor) new_v = divisor;
    if (new_v < round_limit * v) new_v += divisor;
    return new_v;
}

#define CFG_FAIL(...) seer_fail(SEER_STATUS_FORMAT, "halonet config: " __VA_ARGS__)

static bool parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return false;
    *out = (int)v;
    return true;
}

static bool parse_pos_double(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || !isfinite(v)) return false;
    *out = v;
    return true;
}

// Splits s (modified in place) at `sep` into at most n fields; returns the count.
static int split(char *s, char sep, char **fields, int n) {
    int k = 0;
    while (k < n) {
        fields[k++] = s;
        char *p = strchr(s, sep);
        if (!p) break;
        *p = '\0';
        s = p + 1;
    }
    return strchr(fields[k - 1], sep) ? n + 1 : k;
}

static seer_status parse_sa(char *s, halonet_sa_cfg *sa) {
    char orig[128], *f[7];
    snprintf(orig, sizeof orig, "%s", s);
    int n = split(s, ':', f, 7);
    if (strcmp(f[0], "none") == 0 && n == 1) {
        *sa = (halonet_sa_cfg){.type = HALONET_SA_NONE};
        return SEER_STATUS_OK;
    }
    if (strcmp(f[0], "halo") == 0 && n == 6) {
        sa->type = HALONET_SA_HALO;
        if (parse_int(f[1], 1, 64, &sa->block_size) && parse_int(f[2], 0, 64, &sa->halo_size) &&
            parse_int(f[3], 1, 1024, &sa->num_heads) && parse_int(f[4], 0, 4096, &sa->dim_head) &&
            parse_pos_double(f[5], &sa->qk_ratio))
            return SEER_STATUS_OK;
    } else if (strcmp(f[0], "bot") == 0 && n == 4) {
        *sa = (halonet_sa_cfg){.type = HALONET_SA_BOT};
        if (parse_int(f[1], 1, 1024, &sa->num_heads) && parse_int(f[2], 0, 4096, &sa->dim_head) &&
            parse_pos_double(f[3], &sa->qk_ratio))
            return SEER_STATUS_OK;
    }
    return CFG_FAIL("bad self-attention '%s' (halo:<block>:<halo>:<heads>:<dim_head>:<qk_ratio> "
                    "or bot:<heads>:<dim_head>:<qk_ratio>)",
                    orig);
}

static seer_status parse_stage(char *s, halonet_stage_cfg *st) {
    char orig[128], *f[7];
    snprintf(orig, sizeof orig, "%s", s);
    int n = split(s, '/', f, 7);
    if (n != 5 && n != 6)
        return CFG_FAIL("stage '%s' wants <types>/<c>/<s>/<gs>/<br>[/<self-attn>]", orig);
    size_t depth = strlen(f[0]);
    if (depth < 1 || depth > HALONET_MAX_DEPTH || strspn(f[0], "BS") != depth)
        return CFG_FAIL("stage block types '%s' must be 1 to %d letters B or S", f[0],
                        HALONET_MAX_DEPTH);
    memcpy(st->types, f[0], depth + 1);
    if (!parse_int(f[1], 1, 1 << 16, &st->channels) || !parse_int(f[2], 1, 2, &st->stride) ||
        !parse_int(f[3], 0, 1 << 16, &st->group_size) || !parse_pos_double(f[4], &st->bottle_ratio))
        return CFG_FAIL("stage '%s': bad channels/stride (1 or 2)/group size/bottle ratio", orig);
    st->own_sa = n == 6;
    return n == 6 ? parse_sa(f[5], &st->sa) : SEER_STATUS_OK;
}

static seer_status parse_stem(char *s, halonet_cfg *cfg) {
    char orig[128], *f[4];
    snprintf(orig, sizeof orig, "%s", s);
    int n = split(s, ':', f, 4);
    static const char *types[] = {"tiered", "3x3", "7x7"};
    int t = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(f[0], types[i]) == 0) t = i;
    if (t < 0 || n < 2 || n > 3 || !parse_int(f[1], 1, 4096, &cfg->stem_chs) ||
        (n == 3 && strcmp(f[2], "max") != 0))
        return CFG_FAIL("bad stem '%s' (tiered|3x3|7x7:<chs>[:max])", orig);
    cfg->stem_type = (halonet_stem_type)t;
    cfg->stem_pool = n == 3;
    return SEER_STATUS_OK;
}

static seer_status parse_attn(char *s, halonet_cfg *cfg) {
    char orig[128], *f[3];
    snprintf(orig, sizeof orig, "%s", s);
    int n = split(s, ':', f, 3);
    if (strcmp(f[0], "none") == 0 && n == 1) {
        cfg->attn = HALONET_ATTN_NONE;
    } else if (strcmp(f[0], "eca") == 0 && n == 1) {
        cfg->attn = HALONET_ATTN_ECA;
    } else if (strcmp(f[0], "se") == 0 && n <= 2) {
        cfg->attn = HALONET_ATTN_SE;
        cfg->se_rd_ratio = 1.0 / 16;
        if (n == 2 && !parse_pos_double(f[1], &cfg->se_rd_ratio))
            return CFG_FAIL("bad SE ratio in '%s'", orig);
    } else {
        return CFG_FAIL("bad attn '%s' (none, se[:<rd_ratio>] or eca)", orig);
    }
    return SEER_STATUS_OK;
}

static seer_status parse_flag(const char *key, const char *v, bool *out) {
    if (strcmp(v, "0") && strcmp(v, "1")) return CFG_FAIL("%s wants 0 or 1, got '%s'", key, v);
    *out = v[0] == '1';
    return SEER_STATUS_OK;
}

static seer_status parse_pair(char *key, char *v, halonet_cfg *cfg) {
    if (strcmp(key, "stem") == 0) return parse_stem(v, cfg);
    if (strcmp(key, "attn") == 0) return parse_attn(v, cfg);
    if (strcmp(key, "sa") == 0) return parse_sa(v, &cfg->sa);
    if (strcmp(key, "bottle_in") == 0) return parse_flag(key, v, &cfg->bottle_in);
    if (strcmp(key, "linear_out") == 0) return parse_flag(key, v, &cfg->linear_out);
    if (strcmp(key, "act") == 0) {
        if (strcmp(v, "relu") && strcmp(v, "silu"))
            return CFG_FAIL("act wants relu or silu, got '%s'", v);
        cfg->silu = v[0] == 's';
        return SEER_STATUS_OK;
    }
    if (strcmp(key, "down") == 0) {
        if (strcmp(v, "conv1x1") && strcmp(v, "none"))
            return CFG_FAIL("down wants conv1x1 or none, got '%s'", v);
        cfg->downsample = v[0] == 'c';
        return SEER_STATUS_OK;
    }
    if (strcmp(key, "features") == 0 || strcmp(key, "img") == 0) {
        int *dst = key[0] == 'f' ? &cfg->num_features : &cfg->img_size;
        return parse_int(v, 0, 1 << 16, dst) ? SEER_STATUS_OK
                                             : CFG_FAIL("%s wants an integer, got '%s'", key, v);
    }
    if (strcmp(key, "stages") == 0) {
        char *st[HALONET_MAX_STAGES];
        int n = split(v, ',', st, HALONET_MAX_STAGES);
        if (n > HALONET_MAX_STAGES) return CFG_FAIL("more than %d stages", HALONET_MAX_STAGES);
        cfg->n_stages = n;
        for (int i = 0; i < n; i++)
            SEER_TRY(parse_stage(st[i], &cfg->stages[i]));
        return SEER_STATUS_OK;
    }
    return CFG_FAIL("unknown key '%s' (stem, act, attn, down, features, bottle_in, linear_out, "
                    "img, sa, stages)",
                    key);
}

seer_status seer_halonet_cfg_parse(const char *s, halonet_cfg *cfg) {
    char buf[1024];
    if (strlen(s) >= sizeof buf) return CFG_FAIL("longer than %zu characters", sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return CFG_FAIL("'%s' is not key=value", tok);
        *eq = '\0';
        SEER_TRY(parse_pair(tok, eq + 1, cfg));
    }
    if (cfg->n_stages < 1) return CFG_FAIL("no stages");
    for (int i = 0; i < cfg->n_stages; i++) {
        const halonet_stage_cfg *st = &cfg->stages[i];
        if (strchr(st->types, 'S') && seer_halonet_stage_sa(cfg, i)->type == HALONET_SA_NONE)
            return CFG_FAIL("stage %d has self-attention blocks (S) but no self-attention layer "
                            "(sa=...)",
                            i);
    }
    if (cfg->stem_type == HALONET_STEM_TIERED && cfg->stem_chs < 8)
        return CFG_FAIL("a tiered stem needs stem_chs >= 8, got %d", cfg->stem_chs);
    return SEER_STATUS_OK;
}

const halonet_sa_cfg *seer_halonet_stage_sa(const halonet_cfg *cfg, int stage) {
    return cfg->stages[stage].own_sa ? &cfg->stages[stage].sa : &cfg->sa;
}
