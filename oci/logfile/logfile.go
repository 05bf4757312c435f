// Package logfile writes container output in the CRI log format that the
// kubelet reads:
//
//	<RFC3339Nano time> <stream> <tag> <content>\n
//
// where stream is "stdout" or "stderr" and tag is "F" for the last (or
// only) record of a line and "P" for a record that a longer line was cut
// into, or for output that ended without a newline. The file can be reopened at its path after the kubelet renamed it
// (log rotation).
package logfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// MaxRecord is the longest content one record carries; longer lines are
// split into "P" records, as containerd and CRI-O do.
const MaxRecord = 16 << 10

// File is a CRI log file shared by a container's streams. It is safe for
// concurrent use.
//
// Writing never fails: a record that cannot be written (a full disk, EIO)
// is dropped and counted, so that the container's output keeps being
// drained, and the next record is tried anew; logging resumes by itself
// once the file can be written again. The drops are reported through
// Report, rate-limited.
type File struct {
	root, path string
	now        func() time.Time

	mu sync.Mutex // protects the fields below
	f  *os.File
	// buf assembles one record, reused between writes.
	buf bytes.Buffer
	// dropped counts records lost since the last report; torn tells that
	// a write stopped part way, so the next record starts a new line.
	dropped    int
	torn       bool
	lastReport time.Time
	report     func(string)
}

// ReportEvery is the most often that a File reports dropped records.
const ReportEvery = 10 * time.Second

// Open opens (creating, appending) the log file at path, which lies
// beneath the directory root (the pod's log directory; "" means path's own
// directory): it is opened from root without following any symlink, so
// that a link planted in the directory cannot send the output elsewhere.
// report, if not nil, is told of records dropped on write errors (at most
// once every ReportEvery) and of the writes' recovery; it must not block.
func Open(root, path string, report func(string)) (*File, error) {
	if root == "" {
		root = filepath.Dir(path)
	}
	f, err := openAppend(root, path)
	if err != nil {
		return nil, err
	}
	return &File{root: root, path: path, f: f, now: time.Now, report: report}, nil
}

func openAppend(root, path string) (*os.File, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == "." || strings.HasPrefix(rel, "../") || rel == ".." {
		return nil, &os.PathError{Op: "open", Path: path, Err: errors.New("not beneath " + root)}
	}
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   unix.O_WRONLY | unix.O_APPEND | unix.O_CREAT | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Mode:    0o640,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	})
	if errors.Is(err, unix.ENOSYS) {
		// No openat2 (before Linux 5.6): at least not through a final
		// symlink.
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// MkdirBeneath makes the directories of rel (a relative path) beneath
// root, mode perm, without following any symlink: each component is made,
// then opened beneath its parent with RESOLVE_NO_SYMLINKS. Existing
// directories are kept.
func MkdirBeneath(root, rel string, perm uint32) error {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: root, Err: err}
	}
	for _, part := range strings.Split(filepath.Clean(rel), "/") {
		if part == "." || part == "" {
			continue
		}
		if part == ".." {
			unix.Close(dir)
			return &os.PathError{Op: "mkdir", Path: rel, Err: errors.New("leaves " + root)}
		}
		if err := unix.Mkdirat(dir, part, perm); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(dir)
			return &os.PathError{Op: "mkdir", Path: filepath.Join(root, rel), Err: err}
		}
		next, err := unix.Openat2(dir, part, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
		})
		unix.Close(dir)
		if err != nil {
			return &os.PathError{Op: "open", Path: filepath.Join(root, rel), Err: err}
		}
		dir = next
	}
	unix.Close(dir)
	return nil
}

// Reopen closes the file and opens its path again, so that after a rename
// writes go to a new file at the original path. Records are never split
// across the two files.
func (l *File) Reopen() error {
	f, err := openAppend(l.root, l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

// Close closes the file.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// writeRecord writes one record in a single write(2), so records of two
// streams never interleave. A failed write drops the record (see File).
func (l *File) writeRecord(stream string, partial bool, content []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.buf.Reset()
	if l.torn {
		// End the line that a failed write left unfinished.
		l.buf.WriteByte('\n')
	}
	l.buf.WriteString(now.UTC().Format(time.RFC3339Nano))
	l.buf.WriteByte(' ')
	l.buf.WriteString(stream)
	if partial {
		l.buf.WriteString(" P ")
	} else {
		l.buf.WriteString(" F ")
	}
	l.buf.Write(content)
	l.buf.WriteByte('\n')
	n, err := l.f.Write(l.buf.Bytes())
	if err == nil {
		l.torn = false
		if l.dropped > 0 {
			l.tell("log writes resumed; " + strconv.Itoa(l.dropped) + " records were dropped")
			l.dropped, l.lastReport = 0, time.Time{}
		}
		return nil
	}
	l.torn = l.torn && n == 0 || n > 0
	l.dropped++
	if now.Sub(l.lastReport) >= ReportEvery {
		l.lastReport = now
		l.tell("writing " + l.path + ": " + err.Error() + "; dropping records (" + strconv.Itoa(l.dropped) + " so far) until it works again")
	}
	return nil
}

func (l *File) tell(msg string) {
	if l.report != nil {
		l.report(msg)
	}
}

// Stream turns one output stream ("stdout" or "stderr") into records of l.
// Write accepts arbitrary chunks; Close flushes a last line that has no
// newline as a partial record, so that a reader gives back the output
// exactly: the kubelet's termination message of `echo -n DONE` is "DONE".
// A Stream is not safe for concurrent use; each stream has its own.
type Stream struct {
	log     *File
	name    string
	pending []byte // the start of a line not yet ended by '\n'
}

// Stream returns the writer for one stream of l.
func (l *File) Stream(name string) *Stream { return &Stream{log: l, name: name} }

// Write splits p into lines and writes a record for each complete line and
// for each MaxRecord bytes of a longer one.
func (s *Stream) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.pending = append(s.pending, p...)
			p = nil
		} else {
			line := p[:i]
			p = p[i+1:]
			if len(s.pending) > 0 {
				line = append(s.pending, line...)
				s.pending = s.pending[:0]
			}
			if err := s.emit(line, true); err != nil {
				return n - len(p), err
			}
			continue
		}
		// Cut what has piled up without a newline into partial records.
		for len(s.pending) >= MaxRecord {
			if err := s.log.writeRecord(s.name, true, s.pending[:MaxRecord]); err != nil {
				return n, err
			}
			s.pending = append(s.pending[:0], s.pending[MaxRecord:]...)
		}
	}
	return n, nil
}

// emit writes a line as P records of MaxRecord bytes and a last record,
// F if the line is complete.
func (s *Stream) emit(line []byte, complete bool) error {
	for len(line) > MaxRecord {
		if err := s.log.writeRecord(s.name, true, line[:MaxRecord]); err != nil {
			return err
		}
		line = line[MaxRecord:]
	}
	return s.log.writeRecord(s.name, !complete, line)
}

// Close writes any unfinished line as partial records.
func (s *Stream) Close() error {
	if len(s.pending) == 0 {
		return nil
	}
	line := s.pending
	s.pending = nil
	return s.emit(line, false)
}
