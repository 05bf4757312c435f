package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// curlOptions are the parts of curl's command line that Kubernetes' node
// e2e specs use.
type curlOptions struct {
	url            string
	method         string
	output         string // -o; "" is standard output
	writeOut       string // -w, with %{http_code} expanded
	include        bool   // -i: the status line and headers before the body
	fail           bool   // -f: exit 22 on an HTTP status of 400 or more
	maxTime        time.Duration
	connectTimeout time.Duration
}

// curl fetches one http:// URL as curl does, with curl's exit codes: 6
// (host not resolved), 7 (connection failed), 28 (timeout), 22 (-f and a
// status of 400 or more), 2 (a bad command line).
func curl(args []string) int {
	o, err := parseCurl(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "curl: %v\n", err)
		return 2
	}
	ctx := context.Background()
	if o.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.maxTime)
		defer cancel()
	}
	dialer := &net.Dialer{Timeout: o.connectTimeout}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, Proxy: nil}}
	req, err := http.NewRequestWithContext(ctx, o.method, o.url, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "curl: (3) %v\n", err)
		return 3
	}
	req.Header.Set("User-Agent", "curl/7.88.1")
	resp, err := client.Do(req)
	if err != nil {
		var dnsErr *net.DNSError
		switch {
		case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
			fmt.Fprintf(os.Stderr, "curl: (28) %v\n", err)
			return 28
		case errors.As(err, &dnsErr):
			fmt.Fprintf(os.Stderr, "curl: (6) %v\n", err)
			return 6
		default:
			fmt.Fprintf(os.Stderr, "curl: (7) %v\n", err)
			return 7
		}
	}
	defer resp.Body.Close()
	out := io.Writer(os.Stdout)
	if o.output != "" && o.output != "-" {
		f, err := os.Create(o.output)
		if err != nil {
			fmt.Fprintf(os.Stderr, "curl: (23) %v\n", err)
			return 23
		}
		defer f.Close()
		out = f
	}
	if o.fail && resp.StatusCode >= 400 {
		fmt.Fprintf(os.Stderr, "curl: (22) The requested URL returned error: %d\n", resp.StatusCode)
		return 22
	}
	if o.include {
		fmt.Fprintf(out, "%s %s\r\n", resp.Proto, resp.Status)
		_ = resp.Header.Write(out)
		fmt.Fprint(out, "\r\n")
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
			return 28
		}
		fmt.Fprintf(os.Stderr, "curl: (56) %v\n", err)
		return 56
	}
	if o.writeOut != "" {
		fmt.Fprint(os.Stdout, strings.ReplaceAll(o.writeOut, "%{http_code}", fmt.Sprintf("%03d", resp.StatusCode)))
	}
	return 0
}

func parseCurl(args []string) (*curlOptions, error) {
	o := &curlOptions{method: http.MethodGet}
	seconds := func(name, v string) (time.Duration, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("option %s: expected a number of seconds, got %q", name, v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("option %s: requires a value", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch a {
		case "-g", "--globoff", "-q", "--disable", "-s", "--silent", "-S", "--show-error", "-L", "--location":
			// No globbing, no .curlrc, no progress meter: what this
			// substitute does anyway. Redirects are followed.
		case "-i", "--include":
			o.include = true
		case "-f", "--fail":
			o.fail = true
		case "-o", "--output":
			o.output, err = value()
		case "-w", "--write-out":
			o.writeOut, err = value()
		case "-X", "--request":
			o.method, err = value()
		case "-m", "--max-time":
			var v string
			if v, err = value(); err == nil {
				o.maxTime, err = seconds(a, v)
			}
		case "--connect-timeout":
			var v string
			if v, err = value(); err == nil {
				o.connectTimeout, err = seconds(a, v)
			}
		default:
			if strings.HasPrefix(a, "-") {
				return nil, fmt.Errorf("option %s: is not supported by this substitute", a)
			}
			if o.url != "" {
				return nil, fmt.Errorf("one URL only, got %q and %q", o.url, a)
			}
			o.url = a
		}
		if err != nil {
			return nil, err
		}
	}
	if o.url == "" {
		return nil, errors.New("no URL specified")
	}
	if !strings.Contains(o.url, "://") {
		o.url = "http://" + o.url
	}
	if !strings.HasPrefix(o.url, "http://") {
		return nil, fmt.Errorf("(1) only http:// URLs are supported, got %q", o.url)
	}
	return o, nil
}
