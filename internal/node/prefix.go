package node

import (
	"container/list"
	"hash/fnv"
	"strings"
	"sync"
)

// The simulated prefix cache (a KV cache of prompt prefixes, as vLLM's
// automatic prefix caching keeps one): a prompt is split into blocks of
// prefixBlock tokens (words), each named by a hash chained over every
// block before it, so a block is found only after the same prefix. The
// leading blocks found are cached and skip prefill; the rest are
// prefilled at --prompt-token-delay per token and then cached. The cache
// holds --prefix-cache-tokens tokens, least recently used first out.

// prefixBlock is the tokens per cached block (vLLM's default block size).
const prefixBlock = 16

// promptTokens splits a request's prompt, its messages in order, into
// tokens: the simulation's tokens are words.
func promptTokens(req inferRequest) []string {
	toks := strings.Fields(req.Prompt)
	for _, m := range req.Messages {
		toks = append(toks, strings.Fields(m.Content)...)
	}
	return toks
}

// blockHashes names every full block of toks, each hash chained over the
// blocks before it.
func blockHashes(toks []string) []uint64 {
	out := make([]uint64, 0, len(toks)/prefixBlock)
	h := fnv.New64a()
	for i := 0; i+prefixBlock <= len(toks); i += prefixBlock {
		for _, t := range toks[i : i+prefixBlock] {
			h.Write([]byte(t))
			h.Write([]byte{0})
		}
		out = append(out, h.Sum64()) // the hash so far: every block up to this one
	}
	return out
}

// prefixCache is an LRU of prompt blocks.
type prefixCache struct {
	mu     sync.Mutex
	max    int // blocks; 0: no cache
	order  *list.List
	blocks map[uint64]*list.Element
}

func newPrefixCache(tokens int) *prefixCache {
	return &prefixCache{max: tokens / prefixBlock, order: list.New(), blocks: map[uint64]*list.Element{}}
}

// lookup returns how many leading tokens of a prompt of n tokens with
// these block hashes are cached, then caches every block (most recent
// first).
func (c *prefixCache) lookup(hashes []uint64) (cached int) {
	if c.max == 0 {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	hit := true
	for _, h := range hashes {
		e, ok := c.blocks[h]
		if hit && ok {
			cached += prefixBlock
		} else {
			hit = false
		}
		if ok {
			c.order.MoveToFront(e)
			continue
		}
		c.blocks[h] = c.order.PushFront(h)
		for c.order.Len() > c.max {
			last := c.order.Back()
			delete(c.blocks, last.Value.(uint64))
			c.order.Remove(last)
		}
	}
	return cached
}

// affinityKey names a prompt's leading block (or, for a prompt shorter
// than a block, the whole of it): requests that share it share a cached
// prefix, and prefix_affinity sends them to the same node. Every node
// computes the same key (FNV-1a, not a per-process seed).
func affinityKey(toks []string) uint64 {
	h := fnv.New64a()
	for _, t := range toks[:min(len(toks), prefixBlock)] {
		h.Write([]byte(t))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// rendezvous picks, among ids, the one whose hash with key is highest: a
// key keeps its node while the node stays a candidate, and the keys of a
// node that leaves spread over the others.
func rendezvous(key uint64, ids []string) int {
	best, bestScore := 0, uint64(0)
	for i, id := range ids {
		h := fnv.New64a()
		h.Write([]byte(id))
		s := h.Sum64() ^ key
		s ^= s >> 33
		s *= 0xff51afd7ed558ccd
		s ^= s >> 33
		if i == 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}
