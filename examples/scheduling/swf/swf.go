// Package swf reads and writes the Standard Workload Format (SWF) of the
// Parallel Workloads Archive: a text file of comment lines, which start
// with ';' (the header: "; MaxProcs: 128", say), and one line per job of 18
// whitespace-separated numeric fields, -1 meaning unknown:
//
//	1 job number            7 used memory (KB/proc)  13 group
//	2 submit time (s)       8 requested processors   14 executable
//	3 wait time (s)         9 requested time (s)     15 queue
//	4 run time (s)         10 requested memory (KB)  16 partition
//	5 allocated processors 11 status                 17 preceding job
//	6 average CPU time (s) 12 user                   18 think time (s)
//
// Every field is an integer, except that the two averages (fields 6 and 7)
// may have a decimal fraction, as some archive logs write them. A field
// that is not a number, a negative value other than -1, a line of another
// number of fields or a line longer than MaxLine is an error that names the
// line and the field: the files come from users.
//
// It depends on the standard library only.
package swf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Unknown is the value of a field the log does not know.
const Unknown = -1

// Fields is the number of fields of a job line.
const Fields = 18

// MaxLine bounds the length of a line, in bytes.
const MaxLine = 64 << 10

// FieldNames are the fields' names, by position from 0 (field 1 is
// FieldNames[0]).
var FieldNames = [Fields]string{
	"job number", "submit time", "wait time", "run time", "allocated processors",
	"average CPU time", "used memory", "requested processors", "requested time",
	"requested memory", "status", "user", "group", "executable", "queue",
	"partition", "preceding job", "think time",
}

// Job is one job line. Times are in seconds; memory in kilobytes per
// processor.
type Job struct {
	Number     int64
	Submit     int64
	Wait       int64
	Run        int64
	Procs      int64 // allocated processors
	CPUTime    float64
	UsedMemory float64
	ReqProcs   int64
	ReqTime    int64
	ReqMemory  int64
	// Status: 1 completed, 0 failed, 5 cancelled; 2, 3 and 4 are the
	// parts of a checkpointed job (see the format's definition).
	Status     int64
	User       int64
	Group      int64
	Executable int64
	Queue      int64
	Partition  int64
	Preceding  int64
	ThinkTime  int64
}

// Log is a parsed file: its header comments (without the ';' and the
// spaces after it) and its jobs in file order.
type Log struct {
	Header []string
	Jobs   []Job
}

// HeaderValue returns the value of the header line "Key: value" (the
// key compared without case), and whether there is one.
func (l *Log) HeaderValue(key string) (string, bool) {
	for _, h := range l.Header {
		k, v, ok := strings.Cut(h, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// Error is a malformed line. Field is the field's position from 1, or 0
// when the line as a whole is wrong.
type Error struct {
	Line    int
	Field   int
	Text    string // the offending field (or the start of the line)
	Problem string
}

func (e *Error) Error() string {
	if e.Field == 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Problem)
	}
	return fmt.Sprintf("line %d, field %d (%s): %q %s", e.Line, e.Field, FieldNames[e.Field-1], e.Text, e.Problem)
}

// ReadFile reads the log at path.
func ReadFile(path string) (*Log, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// Read parses a log. Blank lines are skipped. The first malformed line
// stops it with an *Error.
func Read(r io.Reader) (*Log, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	log := &Log{}
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case line[0] == ';':
			// A lone carriage return is not a line break to the scanner:
			// it becomes a space, so that the header writes back as one line.
			log.Header = append(log.Header, strings.TrimSpace(strings.ReplaceAll(line[1:], "\r", " ")))
			continue
		}
		j, err := parseJob(n, line)
		if err != nil {
			return nil, err
		}
		log.Jobs = append(log.Jobs, j)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &Error{Line: n + 1, Problem: fmt.Sprintf("longer than %d bytes", MaxLine)}
		}
		return nil, err
	}
	return log, nil
}

func parseJob(n int, line string) (Job, error) {
	f := strings.Fields(line)
	if len(f) != Fields {
		return Job{}, &Error{Line: n, Problem: fmt.Sprintf("%d fields, want %d (comment lines start with ';')", len(f), Fields)}
	}
	var ints [Fields]int64
	var floats [2]float64
	for i, s := range f {
		if i == 5 || i == 6 { // the averages
			v, err := parseDecimal(s)
			if err != nil {
				return Job{}, &Error{Line: n, Field: i + 1, Text: s, Problem: err.Error()}
			}
			floats[i-5] = v
			continue
		}
		v, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil:
			return Job{}, &Error{Line: n, Field: i + 1, Text: s, Problem: "is not an integer"}
		case v < Unknown:
			return Job{}, &Error{Line: n, Field: i + 1, Text: s, Problem: "is negative: a value is -1 (unknown) or at least 0"}
		}
		ints[i] = v
	}
	return Job{
		Number: ints[0], Submit: ints[1], Wait: ints[2], Run: ints[3], Procs: ints[4],
		CPUTime: floats[0], UsedMemory: floats[1],
		ReqProcs: ints[7], ReqTime: ints[8], ReqMemory: ints[9], Status: ints[10],
		User: ints[11], Group: ints[12], Executable: ints[13], Queue: ints[14],
		Partition: ints[15], Preceding: ints[16], ThinkTime: ints[17],
	}, nil
}

// parseDecimal reads [-]digits[.digits]: no exponent, no sign other than
// a leading '-', nothing a reader of the format would not write.
func parseDecimal(s string) (float64, error) {
	body := strings.TrimPrefix(s, "-")
	whole, frac, dot := strings.Cut(body, ".")
	digits := func(x string) bool {
		for _, r := range x {
			if r < '0' || r > '9' {
				return false
			}
		}
		return true
	}
	if whole == "" || !digits(whole) || !digits(frac) || (dot && frac == "") || len(body) > 400 {
		return 0, errors.New("is not a number (digits, with an optional fraction)")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, errors.New("is out of range")
	}
	if v < Unknown || (v < 0 && v != Unknown) {
		return 0, errors.New("is negative: a value is -1 (unknown) or at least 0")
	}
	return v, nil
}

// Format returns j as a job line, fields separated by single spaces.
func (j Job) Format() string {
	dec := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	parts := []string{
		itoa(j.Number), itoa(j.Submit), itoa(j.Wait), itoa(j.Run), itoa(j.Procs),
		dec(j.CPUTime), dec(j.UsedMemory), itoa(j.ReqProcs), itoa(j.ReqTime), itoa(j.ReqMemory),
		itoa(j.Status), itoa(j.User), itoa(j.Group), itoa(j.Executable), itoa(j.Queue),
		itoa(j.Partition), itoa(j.Preceding), itoa(j.ThinkTime),
	}
	return strings.Join(parts, " ")
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// Write writes l: its header lines as comments, then its jobs.
func Write(w io.Writer, l *Log) error {
	bw := bufio.NewWriter(w)
	for _, h := range l.Header {
		if strings.ContainsAny(h, "\r\n") {
			return fmt.Errorf("swf: header line %q spans lines", h)
		}
		fmt.Fprintf(bw, "; %s\n", h)
	}
	for _, j := range l.Jobs {
		bw.WriteString(j.Format())
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
