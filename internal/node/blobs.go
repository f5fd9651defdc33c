package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// ErrDigestMismatch: downloaded bytes do not hash to the expected digest.
var ErrDigestMismatch = errors.New("digest mismatch")

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// validDigest reports whether d is "sha256:" and 64 lower-case hex digits.
func validDigest(d string) bool { return digestRE.MatchString(d) }

// blobStore keeps blobs on disk named by their sha256.
type blobStore struct {
	dir  string
	mu   sync.Mutex
	have map[string]int64 // digest -> size
}

func newBlobStore(dir string) (*blobStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b := &blobStore{dir: dir, have: map[string]int64{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if d := "sha256:" + strings.TrimPrefix(e.Name(), "sha256-"); validDigest(d) {
			if info, err := e.Info(); err == nil {
				b.have[d] = info.Size()
			}
		} else if strings.HasSuffix(e.Name(), ".partial") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return b, nil
}

func (b *blobStore) path(digest string) string {
	return filepath.Join(b.dir, "sha256-"+strings.TrimPrefix(digest, "sha256:"))
}

func (b *blobStore) has(digest string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.have[digest]
	return ok
}

func (b *blobStore) digests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.have))
	for d := range b.have {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func (b *blobStore) bytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for _, s := range b.have {
		n += s
	}
	return n
}

func (b *blobStore) remove(digest string) {
	b.mu.Lock()
	delete(b.have, digest)
	b.mu.Unlock()
	os.Remove(b.path(digest))
}

// create writes a deterministic synthetic model of size bytes: the same
// name and size give the same bytes, and so the same digest, on any node.
// It stops, leaving nothing behind, when ctx ends.
func (b *blobStore) create(ctx context.Context, name string, size int64) (string, error) {
	seed := sha256.Sum256([]byte(name))
	src := ctxReader{ctx: ctx, r: rand.NewChaCha8(seed)}
	tmp, err := os.CreateTemp(b.dir, "create-*.partial")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(tmp, h), src, size); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	return digest, b.commit(tmp.Name(), digest, size)
}

// ctxReader reads r until ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (b *blobStore) commit(tmpPath, digest string, size int64) error {
	if err := os.Rename(tmpPath, b.path(digest)); err != nil {
		return err
	}
	b.mu.Lock()
	b.have[digest] = size
	b.mu.Unlock()
	return nil
}

// serve answers GET (with Range) for a blob. corrupt flips every byte
// served, for tests of digest verification.
func (b *blobStore) serve(w http.ResponseWriter, r *http.Request, digest string, corrupt bool) {
	f, err := os.Open(b.path(digest))
	if err != nil {
		writeErr(w, http.StatusNotFound, "blob %s not held by this node", digest)
		return
	}
	defer f.Close()
	var rs io.ReadSeeker = f
	if corrupt {
		rs = flipper{f}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", fixedTime, rs)
}

type flipper struct{ io.ReadSeeker }

func (f flipper) Read(p []byte) (int, error) {
	n, err := f.ReadSeeker.Read(p)
	for i := range p[:n] {
		p[i] ^= 0xff
	}
	return n, err
}

// download fetches digest (size bytes) from sources (API base URLs) with
// parallel range requests, verifies the sha256 and keeps the blob only if
// it matches. It returns the bytes fetched.
func (b *blobStore) download(ctx context.Context, c *http.Client, digest string, size int64, sources []string, parallel int) (int64, error) {
	if len(sources) == 0 {
		return 0, fmt.Errorf("no node holds %s", digest)
	}
	tmp, err := os.CreateTemp(b.dir, "pull-*.partial")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := tmp.Truncate(size); err != nil {
		return 0, err
	}
	const minChunk = 1 << 20
	chunk := max(size/int64(parallel*4), minChunk)
	type rng struct{ off, end int64 } // end exclusive
	var ranges []rng
	for off := int64(0); off < size; off += chunk {
		ranges = append(ranges, rng{off, min(off+chunk, size)})
	}
	work := make(chan int)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				rg := ranges[i]
				src := sources[i%len(sources)]
				if err := fetchRange(ctx, c, src+"/api/v1/blobs/"+digest, tmp, rg.off, rg.end); err != nil {
					errs <- fmt.Errorf("range %d-%d from %s: %w", rg.off, rg.end-1, src, err)
					cancel()
					return
				}
			}
		}()
	}
feed:
	for i := range ranges {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, tmp); err != nil {
		return 0, err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return size, fmt.Errorf("%w: got %s, want %s", ErrDigestMismatch, got, digest)
	}
	if err := tmp.Close(); err != nil {
		return size, err
	}
	return size, b.commit(tmp.Name(), digest, size)
}

func fetchRange(ctx context.Context, c *http.Client, url string, f *os.File, off, end int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, end-1))
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		return fmt.Errorf("HTTP %d, want 206", resp.StatusCode)
	}
	n, err := io.Copy(io.NewOffsetWriter(f, off), io.LimitReader(resp.Body, end-off))
	if err != nil {
		return err
	}
	if n != end-off {
		return fmt.Errorf("short range: %d of %d bytes", n, end-off)
	}
	return nil
}
