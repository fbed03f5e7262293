
# Job names and run ids, from `cronq complete`, with the settings flags of the line.
_cronq_dynamic() {
    local sub="" at=0 i
    for ((i = 2; i < CURRENT; i++)); do
        case $words[i] in
            run|rerun|backfill|show|logs|cancel|next|history) sub=$words[i]; at=$i; break ;;
        esac
    done
    local prev=$words[CURRENT-1] cur=$words[CURRENT] what=""
    if [[ $prev == --job && ( $sub == next || $sub == history ) ]]; then
        what=jobs
    elif [[ -n $sub && $cur != -* && ! $prev =~ '^--(settings|schedule|store|redis-prefix|state-dir|env)$' ]]; then
        local positional=0
        for ((i = at + 1; i < CURRENT; i++)); do
            case $words[i] in
                --settings|--schedule|--store|--redis-prefix|--state-dir|--env) ((i++)) ;;
                -*) ;;
                *) ((positional++)) ;;
            esac
        done
        if ((positional == 0)); then
            case $sub in
                run) what=jobs ;;
                show|logs) what="runs jobs" ;;
                cancel|rerun) what=runs ;;
                backfill) what=jobs ;;
            esac
        fi
    fi
    if [[ -n $what ]]; then
        local -a settings found
        for ((i = 2; i < CURRENT; i++)); do
            case $words[i] in
                --settings|--schedule|--store|--redis-prefix|--state-dir)
                    settings+=($words[i] $words[i+1]) ;;
            esac
        done
        local kind
        for kind in ${=what}; do
            found+=(${(f)"$($words[1] complete $kind $settings 2>/dev/null)"})
        done
        compadd -a found
        return
    fi
    _cronq "$@"
}

compdef _cronq_dynamic cronq
