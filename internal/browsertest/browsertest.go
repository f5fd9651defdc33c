// Package browsertest opens pages in headless Chromium for tests: the
// report's HTML and the live dashboard. A test calls New; without a
// Chromium on the machine (Debian's chromium package) the test is skipped
// with that reason. .ci/run installs it.
package browsertest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Browser is one headless Chromium tab that records the page's console
// errors and uncaught exceptions.
type Browser struct {
	Ctx context.Context

	mu     sync.Mutex
	errors []string
}

// chromiumNames are the executables tried, in order.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"}

// New starts headless Chromium for t, bounded by timeout, and stops it
// when t ends. It skips t when no Chromium is installed.
func New(t *testing.T, timeout time.Duration) *Browser {
	t.Helper()
	var path string
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skipf("no Chromium here (tried %s): install Debian's chromium package to run this browser test", strings.Join(chromiumNames, ", "))
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 900))
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelTab(); cancelAlloc(); cancel() })
	b := &Browser{Ctx: tab}
	err := chromedp.Listen(tab, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				b.add("console.error: " + strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			b.add("uncaught: " + msg)
		}
	})
	if err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return b
}

func (b *Browser) add(msg string) {
	b.mu.Lock()
	b.errors = append(b.errors, msg)
	b.mu.Unlock()
}

// Errors returns the console errors and exceptions seen so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](b *Browser, expr string) (T, error) {
	return chromedp.Run(b.Ctx, chromedp.Evaluate[T](expr))
}

// Open navigates to url and waits until the CSS selector is visible.
func (b *Browser) Open(url, selector string) error {
	return chromedp.Do(b.Ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(selector)))
}

// WaitFor evaluates a boolean JavaScript expression every 50 ms until it
// is true, and returns how long that took, or an error at the deadline.
func (b *Browser) WaitFor(expr string, within time.Duration) (time.Duration, error) {
	began := time.Now()
	for {
		ok, err := Eval[bool](b, expr)
		if err != nil {
			return 0, err
		}
		if ok {
			return time.Since(began), nil
		}
		if time.Since(began) > within {
			return 0, fmt.Errorf("%s was still false after %v", expr, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
