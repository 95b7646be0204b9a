"""counterfactual"""
