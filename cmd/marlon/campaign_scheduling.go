package main

import (
	"github.com/marlon-go/marlon/campaign"
	"github.com/marlon-go/marlon/examples/scheduling/learners"
	"github.com/marlon-go/marlon/examples/scheduling/schedcampaign"
)

// The scheduling environment's campaign: the seed's 26 configurations.
func init() {
	campaignEnvs = append(campaignEnvs, campaignEnv{
		name: "scheduling",
		runner: func(methods []string, seed uint64, episodes int) (campaign.Runner, error) {
			tr := learners.DefaultTraining()
			if episodes > 0 {
				tr.Episodes = episodes
			}
			return schedcampaign.New(schedcampaign.Options{Methods: methods, Seed: seed, Training: tr})
		},
		methods: learners.Names(),
		columns: []campaign.Column{
			{Title: "completion %", Metric: "completion_rate", Scale: 100, Digits: 1},
			{Title: "availability %", Metric: "availability", Scale: 100, Digits: 1},
			{Title: "bsld", Metric: "mean_bsld", Digits: 2},
			{Title: "wait s", Metric: "mean_wait", Digits: 0},
			{Title: "mttr s", Metric: "mttr", Digits: 0},
			{Title: "lost", Metric: "lost", Digits: 1},
		},
		tested: []string{"completion_rate", "availability", "mean_bsld"},
		pairs: [][2]string{
			{learners.Bidding, learners.FCFS}, {learners.Bidding, learners.EASY}, {learners.Reserve, learners.EASY},
			{learners.QLearning, learners.EASY}, {learners.PolicyGradient, learners.EASY},
			{learners.QLearning, learners.Bidding}, {learners.PolicyGradient, learners.Bidding},
		},
		plots: []campaign.Column{
			{Title: "completion rate (%)", Metric: "completion_rate", Scale: 100},
			{Title: "availability (%)", Metric: "availability", Scale: 100},
			{Title: "mean bounded slowdown", Metric: "mean_bsld", Scale: 1},
		},
	})
}
