package metrics

import (
	"errors"
	"fmt"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Summarize computes a LatencySummary from h.
func Summarize(h *hdr.Histogram) LatencySummary {
	if h.TotalCount() == 0 {
		return LatencySummary{}
	}
	return LatencySummary{
		MinNs:    h.Min(),
		MeanNs:   h.Mean(),
		StdDevNs: h.StdDev(),
		P50Ns:    h.ValueAtQuantile(50),
		P90Ns:    h.ValueAtQuantile(90),
		P95Ns:    h.ValueAtQuantile(95),
		P99Ns:    h.ValueAtQuantile(99),
		P999Ns:   h.ValueAtQuantile(99.9),
		MaxNs:    h.Max(),
	}
}

// EncodeHistogram returns base64 of h's V2 compressed encoding.
func EncodeHistogram(h *hdr.Histogram) string {
	// Encode already returns base64 text.
	b, err := h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		// Encoding an in-memory histogram only fails on a broken zlib writer.
		panic(fmt.Sprintf("metrics: encoding histogram: %v", err))
	}
	return string(b)
}

// maxEncodedLen bounds the base64 text DecodeHistogram accepts (1 MiB).
const maxEncodedLen = 1 << 20

// ErrBadHistogram is returned for a histogram field that does not decode.
var ErrBadHistogram = errors.New("bad histogram")

// DecodeHistogram decodes a histogram written by EncodeHistogram. It
// refuses histograms whose range differs from odbench's, which also bounds
// the memory a hostile file can make it allocate.
func DecodeHistogram(s string) (h *hdr.Histogram, err error) {
	if len(s) > maxEncodedLen {
		return nil, fmt.Errorf("%w: %d bytes of base64 is more than the %d allowed", ErrBadHistogram, len(s), maxEncodedLen)
	}
	defer func() {
		if r := recover(); r != nil {
			h, err = nil, fmt.Errorf("%w: %v", ErrBadHistogram, r)
		}
	}()
	h, err = hdr.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadHistogram, err)
	}
	if h.LowestTrackableValue() != HistMinNs || h.HighestTrackableValue() != HistMaxNs || h.SignificantFigures() != HistSigFigs {
		return nil, fmt.Errorf("%w: range %d..%d with %d digits, want %d..%d with %d", ErrBadHistogram,
			h.LowestTrackableValue(), h.HighestTrackableValue(), h.SignificantFigures(), HistMinNs, HistMaxNs, HistSigFigs)
	}
	return h, nil
}

// MergedLatency is the latency summary of several operations together,
// from their histograms added (percentiles are never averaged). An
// operation without a histogram makes it an error.
func MergedLatency(ops []Operation) (LatencySummary, error) {
	total := newHist()
	for _, op := range ops {
		if op.Histogram == "" {
			return LatencySummary{}, fmt.Errorf("%w: %s has none", ErrBadHistogram, op.Name)
		}
		h, err := DecodeHistogram(op.Histogram)
		if err != nil {
			return LatencySummary{}, fmt.Errorf("%s: %w", op.Name, err)
		}
		total.Merge(h)
	}
	return Summarize(total), nil
}
