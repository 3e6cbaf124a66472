// The Go peer of bench/server: one goroutine per connection, the way Go servers are written.
//
// Each goroutine reads into its own 256 KiB buffer and writes what it read straight back.
// 256 KiB is about what uvloop (256,000 bytes) and the C server read at once, so a 100 KiB
// message takes one read and one write; with io.Copy's 32 KiB this server does about half
// the requests per second at 100 KiB, and its idle connections cost about half the memory
// (pages of the buffer are resident only once touched). It does not call io.Copy: between
// two TCP connections on Linux io.Copy splices inside the kernel, which would measure
// splice(2) rather than a Go program handling the bytes as the other servers do. Go sets
// TCP_NODELAY on accepted connections and sizes GOMAXPROCS from the CPUs the process may
// run on (one, when pinned).
//
// The peer contract of bench/server (bench/server/peers.ts): listens on 127.0.0.1, port 0,
// prints the port on the first line of stdout, and exits when stdin closes.
//
//	go build -o echo echo.go && ./echo
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo.go:", err)
		os.Exit(1)
	}
	fmt.Println(listener.Addr().(*net.TCPAddr).Port)
	go exitWhenStdinCloses()
	for {
		conn, err := listener.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo.go:", err)
			os.Exit(1)
		}
		go echo(conn)
	}
}

func echo(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, 256*1024)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := conn.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func exitWhenStdinCloses() {
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}
