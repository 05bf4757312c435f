// Command testbin stands in for the programs inside critest's and the node
// e2e suite's images that Debian's busybox lacks. It is one static binary, hard-linked under
// several names; the name it is called by picks the program:
//
//	nginx       an HTTP server (port 80, or -listen) that writes
//	            /var/run/nginx.pid and shows "master process" in its
//	            command line, as nginx does
//	httpd       an HTTP server on port 80 that logs "httpd" when it starts
//	nonewprivs  prints "Effective uid: N" (installed setuid root)
//	pgrep       prints the pids of processes whose name matches a pattern
//	ipcs        lists System V shared-memory segments (-m)
//	pause       sleeps until SIGINT or SIGTERM
//	curl        fetches an http:// URL, with the options node e2e uses
//	nmeter      prints the time with milliseconds (-d0 '%3t'), as busybox's
//	            nmeter does
//	nc          sends its input over TCP or UDP and prints the reply
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// masterArgv0 is how nginx's master process names itself in
// /proc/<pid>/cmdline.
const masterArgv0 = "nginx: master process nginx -g daemon off;"

func main() {
	name := filepath.Base(os.Args[0])
	if strings.HasPrefix(os.Args[0], "nginx:") {
		name = "nginx"
	}
	var err error
	switch name {
	case "nginx":
		err = nginx()
	case "httpd":
		fmt.Println("httpd: serving HTTP on :80")
		err = serve(":80")
	case "nonewprivs", "nnp":
		fmt.Printf("Effective uid: %d\n", os.Geteuid())
	case "pgrep":
		os.Exit(pgrep(os.Args[1:]))
	case "ipcs":
		err = ipcs()
	case "pause":
		pause()
	case "curl":
		os.Exit(curl(os.Args[1:]))
	case "nmeter":
		os.Exit(nmeter(os.Args[1:]))
	case "nc":
		os.Exit(nc(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	default:
		err = fmt.Errorf("unknown program %q", name)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func nginx() error {
	if !strings.HasPrefix(os.Args[0], "nginx:") {
		// Re-execute under nginx's own argv[0]: its cmdline then reads
		// "nginx: master process …" while its comm stays "nginx".
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		return syscall.Exec(exe, append([]string{masterArgv0}, os.Args[1:]...), os.Environ())
	}
	fs := flag.NewFlagSet("nginx", flag.ContinueOnError)
	listen := fs.String("listen", ":80", "address to serve HTTP on")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if err := os.MkdirAll("/var/run", 0o755); err != nil {
		return err
	}
	if err := os.WriteFile("/var/run/nginx.pid", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	return serve(*listen)
}

func serve(addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Welcome")
	})
	return http.ListenAndServe(addr, mux)
}

// pgrep prints the pids of the processes, other than itself, whose name
// matches the extended regular expression in args; it exits 1 when none
// does, as procps' pgrep.
func pgrep(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: pgrep PATTERN")
		return 2
	}
	re, err := regexp.Compile(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgrep: %v\n", err)
		return 2
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgrep: %v\n", err)
		return 3
	}
	self := os.Getpid()
	found := 1
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil {
			continue // gone meanwhile
		}
		if re.MatchString(strings.TrimSpace(string(comm))) {
			fmt.Println(pid)
			found = 0
		}
	}
	return found
}

// ipcs prints the System V shared-memory segments of the caller's IPC
// namespace in util-linux's layout.
func ipcs() error {
	f, err := os.Open("/proc/sysvipc/shm")
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Println("\n------ Shared Memory Segments --------")
	fmt.Printf("%-10s %-10s %-10s %-10s %-10s %-10s %-12s\n", "key", "shmid", "owner", "perms", "bytes", "nattch", "status")
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// key shmid perms size cpid lpid nattch uid ...
		fld := strings.Fields(sc.Text())
		if len(fld) < 8 {
			continue
		}
		key, _ := strconv.ParseInt(fld[0], 10, 64)
		perms, _ := strconv.ParseInt(fld[2], 10, 64)
		fmt.Printf("0x%08x %-10s %-10s %-10o %-10s %-10s\n", uint32(key), fld[1], fld[7], perms&0o777, fld[3], fld[6])
	}
	return sc.Err()
}

func pause() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
}
