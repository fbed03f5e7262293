
# Job names and run ids, from `cronq complete`, with the settings flags of the line.
function __cronq_names
    set -l words (commandline -opc)
    set -l settings
    for i in (seq 2 (count $words))
        switch $words[$i]
            case --settings --schedule --store --redis-prefix --state-dir
                set -l next (math $i + 1)
                if test $next -le (count $words)
                    set settings $settings $words[$i] $words[$next]
                end
        end
    end
    for what in $argv
        $words[1] complete $what $settings 2>/dev/null
    end
end

complete -c cronq -n '__fish_seen_subcommand_from run backfill' -f -a '(__cronq_names jobs)'
complete -c cronq -n '__fish_seen_subcommand_from show logs' -f -a '(__cronq_names runs jobs)'
complete -c cronq -n '__fish_seen_subcommand_from cancel rerun' -f -a '(__cronq_names runs)'
complete -c cronq -n '__fish_seen_subcommand_from next history' -l job -r -f -a '(__cronq_names jobs)'
