package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// nmeter is the part of busybox's nmeter (absent from Debian's busybox)
// that Kubernetes' node e2e specs use to read the time with milliseconds:
// `nmeter -d0 '%3t'` prints the local time as HH:MM:SS.mmm, a line every
// -d milliseconds, until its reader goes away. In the format, %Nt is the
// time with N decimals of the second; other text is printed as it is.
func nmeter(args []string) int {
	delay := time.Second
	format := ""
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case strings.HasPrefix(a, "-d"):
			v := strings.TrimPrefix(a, "-d")
			if v == "" && i+1 < len(args) {
				i++
				v = args[i]
			}
			ms, err := strconv.Atoi(v)
			if err != nil || ms < 0 {
				fmt.Fprintf(os.Stderr, "nmeter: bad delay %q\n", v)
				return 1
			}
			delay = time.Duration(ms) * time.Millisecond
		case format == "":
			format = a
		default:
			fmt.Fprintln(os.Stderr, "usage: nmeter [-d MSEC] FORMAT")
			return 1
		}
	}
	w := bufio.NewWriter(os.Stdout)
	for {
		if _, err := w.WriteString(expandNmeter(format, time.Now()) + "\n"); err != nil {
			return 0
		}
		if err := w.Flush(); err != nil {
			return 0 // the reader has gone (head -n1)
		}
		time.Sleep(delay)
	}
}

func expandNmeter(format string, now time.Time) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 >= len(format) {
			b.WriteByte(format[i])
			continue
		}
		j := i + 1
		decimals := 0
		for j < len(format) && format[j] >= '0' && format[j] <= '9' {
			decimals = decimals*10 + int(format[j]-'0')
			j++
		}
		if j < len(format) && format[j] == 't' {
			b.WriteString(now.Format("15:04:05"))
			if decimals > 0 {
				frac := fmt.Sprintf("%09d", now.Nanosecond())
				b.WriteString("." + frac[:min(decimals, 9)])
			}
			i = j
			continue
		}
		b.WriteByte(format[i])
	}
	return b.String()
}
