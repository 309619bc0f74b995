
set terminal pngcairo size 1180,900 font "sans,10"
set output "docs/benchmarks.png"
set multiplot layout 2,1 title "latch vs nginx (return 200) vs Express — 2026-12-03T11:58:11Z, 2 CPUs, server on 1 core"
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid ytics
set logscale y
set xrange [-0.6:13.6]
set xtics rotate by -30 font "sans,8" nomirror
set ylabel "requests/s (log)"
set title "Throughput (median)"
plot "docs/raw/chart.dat" using 1:3:xtic(2) with boxes lc rgb "#3c78d8" notitle, \
     "" using 1:3:(sprintf("%.0f", $3)) with labels offset 0,0.7 font "sans,8" notitle
set ylabel "server CPU µs per request (log)"
set title "Server CPU per request (median; lower is better)"
plot "docs/raw/chart.dat" using 1:4:xtic(2) with boxes lc rgb "#e06666" notitle, \
     "" using 1:4:(sprintf("%.1f", $4)) with labels offset 0,0.7 font "sans,8" notitle
unset multiplot
