package uitest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumNames are the binaries tried, in order: Debian's package installs
// "chromium", other distributions "chromium-browser".
var chromiumNames = []string{"chromium", "chromium-browser"}

// chromium finds the browser or fails the test naming what it looked for.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatalf("no Chromium: none of %s is on PATH (Debian package chromium; `make services` installs it)",
		strings.Join(chromiumNames, ", "))
	return ""
}

// browser is one headless Chromium tab with what the page reported.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	problems []string          // console errors, uncaught exceptions, non-network log errors
	auth     map[string]string // request URL → its Authorization header, last seen
}

// newBrowser starts Chromium (flags for root in a container) with one tab,
// listening to its console, exceptions, log and requests (chromedp enables
// the Runtime, Log and Network domains of every tab). It is stopped when
// the test ends.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	b := &browser{ctx: ctx, auth: map[string]string{}}
	// Listen (chromedp's ListenTarget before v0.23) starts the browser and
	// opens the tab. Its context must not have a deadline: that would stop
	// the browser.
	if err := chromedp.Listen(ctx, b.listen); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return b
}

func (b *browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *cdplog.EventEntryAdded:
		// A failed request (a 404 of a route this orchestrator lacks) is
		// the network's report, which the page handles; anything else at
		// error level (a CSP violation, say) is the page's fault.
		if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
			b.problems = append(b.problems, fmt.Sprintf("log %s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		auth, _ := ev.Request.Headers["Authorization"].(string)
		b.auth[ev.Request.URL] = auth
	}
}

// Problems is what the page reported that it should not have.
func (b *browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// Authorization is the Authorization header of the last request to url.
func (b *browser) Authorization(url string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.auth[url]
	return a, ok
}

// Do runs actions in order with a deadline.
func (b *browser) Do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// run runs one action returning a value, with a deadline.
func run[T any](b *browser, timeout time.Duration, action chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	return chromedp.Run(ctx, action)
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) (T, error) {
	return run(b, 30*time.Second, chromedp.Evaluate[T](expr))
}

// waitFor calls cond every 250 ms until it returns nil, at most timeout;
// then it fails the test with what cond said last.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
