/* merge.c - deciding one mapped field from base, left and right. */
#include "merge.h"

#include "types.h" /* POL_* */

static int into(const MergeIn *in, int t) {
    return (in->flow & (t ? 1 : 2)) && in->policy[t] != POL_NEVER && in->policy[t] != POL_NONE;
}

/* Write into t when its policy lets it and it changes something. */
static void propose(const MergeIn *in, MergeOut *o, int t) {
    if (!into(in, t)) return;
    if (in->give[t].t == VT_NONE) return;               /* a value map had no entry */
    /* Pairing two records never blanks a value: on a pair's first sync a
     * blank fills nothing and clears nothing. */
    if (!in->has_base && value_blank(in->give[t]) && !value_blank(in->cur[t])) return;
    if (value_equal(in->give[t], in->cur[t])) return;   /* already so */
    if (in->policy[t] == POL_IF_BLANK && !value_blank(in->cur[t])) return;
    o->write[t] = 1;
}

/* Who wins when both sides hold different values: -1 nobody. */
static int winner(const MergeIn *in) {
    if (in->prefer == 0 || in->prefer == 1) return in->prefer;
    if (in->prefer == MERGE_PREFER_NEWEST) {
        int64_t a = in->modified[0], b = in->modified[1];
        if (a == INT64_MIN || b == INT64_MIN || a == b) return -1;
        return a > b ? 0 : 1;
    }
    return -1;
}

MergeOut merge_decide(const MergeIn *in) {
    MergeOut o = {{0, 0}, 0};
    int two_way = into(in, 0) && into(in, 1);
    int changed[2];
    for (int s = 0; s < 2; s++) changed[s] = !in->has_base || !value_equal(in->cur[s], in->base[s]);
    if (in->has_base && !changed[0] && !changed[1]) return o;   /* B23: nothing new on either side */

    if (!two_way) {
        /* One way (or one direction left by the policies): the source's
         * changes flow; edits made only on the target stay. */
        for (int t = 0; t < 2; t++)
            if (into(in, t) && changed[1 - t]) propose(in, &o, t);
        return o;
    }
    if (in->has_base && changed[0] != changed[1]) {
        propose(in, &o, changed[0] ? 1 : 0);
        return o;
    }
    /* Both changed since the last sync, or the first sync of this pair. */
    if (value_equal(in->give[1], in->cur[1]) || value_equal(in->give[0], in->cur[0])) return o; /* they agree */
    if (!in->has_base) {
        /* B22: the first sync fills blanks from the other side... */
        int b0 = value_blank(in->cur[0]), b1 = value_blank(in->cur[1]);
        if (b1 && !b0) { propose(in, &o, 1); return o; }
        if (b0 && !b1) { propose(in, &o, 0); return o; }
    }
    /* ...and where both hold values, the preferred side decides. */
    int w = winner(in);
    if (w < 0) { o.conflict = 1; return o; }
    propose(in, &o, 1 - w);
    return o;
}
