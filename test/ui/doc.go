// Package uitest drives the orchestrator's dashboard (/ui/) in a real
// headless Chromium against a real stack: the page loads without a console
// error or an uncaught exception, lists every worker, and its crash-slave
// button kills a slave whose replacement then shows up in the page, the
// timeline shows the crash and the replacement, and its switchover button
// moves the lead (the timeline and the master card show it).
//
// Needs RabbitMQ and ZooKeeper (`make services`) and Debian's chromium
// package (installed by scripts/services.sh); without Chromium the test
// fails naming the binary it looked for.
package uitest
