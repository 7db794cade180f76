package swf

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Two job lines written by hand from the format's definition, with a
// header, a blank line and tabs.
const sample = `; Version: 2.2
;Computer: a made-up machine
; MaxProcs: 64

1 0 12 3600 16 3500.5 1024 16 7200 2048 1 3 1 7 1 1 -1 -1
2	30	-1	59	1	-1	-1	1	60	-1	0	4	2	-1	2	1	1	120
`

func TestReadHandWrittenLines(t *testing.T) {
	l, err := Read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Header) != 3 || l.Header[1] != "Computer: a made-up machine" {
		t.Errorf("header %q", l.Header)
	}
	if v, ok := l.HeaderValue("maxprocs"); !ok || v != "64" {
		t.Errorf("MaxProcs = %q, %v", v, ok)
	}
	want := []Job{
		{Number: 1, Submit: 0, Wait: 12, Run: 3600, Procs: 16, CPUTime: 3500.5, UsedMemory: 1024, ReqProcs: 16, ReqTime: 7200, ReqMemory: 2048,
			Status: 1, User: 3, Group: 1, Executable: 7, Queue: 1, Partition: 1, Preceding: -1, ThinkTime: -1},
		{Number: 2, Submit: 30, Wait: -1, Run: 59, Procs: 1, CPUTime: -1, UsedMemory: -1, ReqProcs: 1, ReqTime: 60, ReqMemory: -1,
			Status: 0, User: 4, Group: 2, Executable: -1, Queue: 2, Partition: 1, Preceding: 1, ThinkTime: 120},
	}
	if len(l.Jobs) != len(want) {
		t.Fatalf("%d jobs, want %d", len(l.Jobs), len(want))
	}
	for i := range want {
		if l.Jobs[i] != want[i] {
			t.Errorf("job %d:\n got %+v\nwant %+v", i, l.Jobs[i], want[i])
		}
	}
}

func TestMalformedLinesNameLineAndField(t *testing.T) {
	good := "1 0 12 3600 16 3500 1024 16 7200 2048 1 3 1 7 1 1 -1 -1"
	field := func(k int, v string) string { // good with field k (from 1) replaced
		f := strings.Fields(good)
		f[k-1] = v
		return strings.Join(f, " ")
	}
	for _, c := range []struct {
		line        string
		field       int
		wantInError string
	}{
		{field(4, "abc"), 4, `line 3, field 4 (run time): "abc" is not an integer`},
		{field(2, "-5"), 2, `field 2 (submit time): "-5" is negative`},
		{field(9, "12.5"), 9, `field 9 (requested time): "12.5" is not an integer`},
		{field(6, "1e3"), 6, `field 6 (average CPU time): "1e3" is not a number`},
		{field(7, "-0.5"), 7, `field 7 (used memory): "-0.5" is negative`},
		{field(6, "3."), 6, `"3." is not a number`},
		{field(18, "99999999999999999999"), 18, `field 18 (think time)`},
		{good + " 5", 0, "line 3: 19 fields, want 18"},
		{"1 2 3", 0, "line 3: 3 fields, want 18"},
	} {
		_, err := Read(strings.NewReader("; header\n" + good + "\n" + c.line + "\n" + good + "\n"))
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: error %v, want an *Error", c.line, err)
			continue
		}
		if e.Line != 3 || e.Field != c.field || !strings.Contains(err.Error(), c.wantInError) {
			t.Errorf("%q: got line %d field %d %q, want line 3 field %d containing %q", c.line, e.Line, e.Field, err, c.field, c.wantInError)
		}
	}
}

func TestLineTooLong(t *testing.T) {
	in := "; ok\n" + strings.Repeat("1 ", MaxLine) + "\n"
	_, err := Read(strings.NewReader(in))
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 {
		t.Fatalf("error %v, want one about line 2", err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	l, err := Read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, l); err != nil {
		t.Fatal(err)
	}
	m, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Jobs) != len(l.Jobs) || m.Jobs[0] != l.Jobs[0] || m.Jobs[1] != l.Jobs[1] || len(m.Header) != len(l.Header) {
		t.Fatalf("round trip changed the log:\n%+v\n%+v", l, m)
	}
}

// FuzzRead: the parser never panics on what users bring, and whatever it
// accepts it writes back to something it reads as the same jobs.
func FuzzRead(f *testing.F) {
	f.Add(sample)
	f.Add("1 0 0 1 1 -1 -1 1 1 -1 1 1 1 1 1 1 -1 -1")
	f.Add("; only a comment\n\n")
	f.Add("1 0 0 1 1 0.25 7.5 1 1 -1 1 1 1 1 1 1 -1 -1\r\n2 0 0 1 1 -1.0 -1 1 1 -1 1 1 1 1 1 1 -1 -1")
	f.Fuzz(func(t *testing.T, in string) {
		l, err := Read(strings.NewReader(in))
		if err != nil {
			var e *Error
			if errors.As(err, &e) && (e.Line < 1 || e.Field < 0 || e.Field > Fields) {
				t.Fatalf("error names line %d field %d", e.Line, e.Field)
			}
			return
		}
		var b bytes.Buffer
		if err := Write(&b, l); err != nil {
			t.Fatal(err)
		}
		m, err := Read(&b)
		if err != nil {
			t.Fatalf("cannot read back what was written: %v\n%s", err, b.String())
		}
		if len(m.Jobs) != len(l.Jobs) {
			t.Fatalf("%d jobs read back, want %d", len(m.Jobs), len(l.Jobs))
		}
		for i := range l.Jobs {
			if m.Jobs[i] != l.Jobs[i] {
				t.Fatalf("job %d read back as %+v, want %+v", i, m.Jobs[i], l.Jobs[i])
			}
		}
	})
}
